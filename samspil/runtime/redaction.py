"""Dead letters never keep a CPR number.

A record is dead-lettered whatever it holds, often precisely because it holds a CPR number, and
a dead letter is kept in a table and on a topic. So before it is kept, every text in it that
holds a CPR number (in any spelling the detector finds) is replaced by a marker naming where it
was and a keyed hash of what it was: in a JSON value each such string or number, in a value
that is not JSON each such span of its text, and the whole of the key or of any header name or
value that holds one. The hash is HMAC-SHA256 under the service's dead-letter key: an operator
who holds the key can check a suspected value and match two dead letters that held the same
text, while a plain hash would give the number away (ten digits are quickly tried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from samspil.runtime.codec import Headers
from schemas.cpr import unescaped
from schemas.envelope import cpr_spans, mask_cpr_numbers

REDACTED_HEADER = "dlq_redacted"


@dataclass(frozen=True)
class RedactedRecord:
    """A record's key, value and headers with every CPR number replaced; ``paths`` names each
    place that was redacted (``key``, ``value``, ``value.note``, ``header.ce_source``...)."""

    key: bytes | None
    value: bytes
    headers: Headers
    paths: tuple[str, ...]


class Redactor:
    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the dead-letter key must be at least 32 characters")
        self._secret = secret.encode()

    def marker(self, path: str, original: bytes) -> str:
        """The text that stands in for a redacted one. The hash is base32, not hex: hex digits
        can run ten long and look like a CPR number themselves."""
        digest = hmac.new(self._secret, original, hashlib.sha256).digest()
        tag = base64.b32encode(digest).decode().rstrip("=").lower()
        marker = f"[redacted {path} hmac-sha256:{tag}]"
        return marker if not cpr_spans(marker) else f"[redacted {mask_cpr_numbers(path)}]"

    def redact(self, key: bytes | None, value: bytes, headers: Headers) -> RedactedRecord:
        paths: list[str] = []
        new_key = key
        if key is not None and _holds_cpr(key):
            paths.append("key")
            new_key = self.marker("key", key).encode()
        new_headers: Headers = []
        for index, (name, raw) in enumerate(headers):
            if cpr_spans(name):
                name_path = f"header[{index}].name"
                paths.append(name_path)
                name = self.marker(name_path, name.encode("utf-8", "surrogatepass"))
            if raw and _holds_cpr(raw):
                value_path = f"header.{name}"
                paths.append(value_path)
                raw = self.marker(value_path, raw).encode()
            new_headers.append((name, raw))
        new_value = self._redact_value(value, paths)
        return RedactedRecord(key=new_key, value=new_value, headers=new_headers, paths=tuple(paths))

    def _redact_value(self, value: bytes, paths: list[str]) -> bytes:
        if not value:
            return value
        try:
            document = json.loads(value)
        except (ValueError, RecursionError):
            return self._redact_text(value, paths)
        found: list[str] = []
        try:
            redacted = self._walk(document, "value", found)
        except RecursionError:
            return self._redact_text(value, paths)
        if not found:
            return value  # untouched, byte for byte
        paths.extend(found)
        try:
            return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
            return json.dumps(redacted, separators=(",", ":")).encode()

    def _walk(self, node: Any, path: str, found: list[str]) -> Any:
        if isinstance(node, str):
            if cpr_spans(node):
                found.append(path)
                return self.marker(path, node.encode("utf-8", "surrogatepass"))
            return node
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int | float):
            text = json.dumps(node)
            if cpr_spans(text):
                found.append(path)
                return self.marker(path, text.encode())
            return node
        if isinstance(node, list):
            return [self._walk(item, f"{path}[{index}]", found) for index, item in enumerate(node)]
        result: dict[str, Any] = {}
        for index, (name, item) in enumerate(node.items()):
            if cpr_spans(name):
                member = f"{path}.(name {index})"
                found.append(member)
                result[self.marker(member, name.encode("utf-8", "surrogatepass"))] = self._walk(
                    item, member, found
                )
            else:
                result[name] = self._walk(item, f"{path}.{name}", found)
        return result

    def _redact_text(self, value: bytes, paths: list[str]) -> bytes:
        text = value.decode("utf-8", "surrogateescape")
        # Read as another encoding or with its escapes written out, a broken document may show a
        # number the plain text hides: then nothing of it is kept (fail closed).
        other_views = [unescaped(text), value.decode(json.detect_encoding(value), "replace")]
        if any(cpr_spans(view) for view in other_views) and not cpr_spans(text):
            paths.append("value")
            return self.marker("value", value).encode()
        spans = cpr_spans(text)
        if not spans:
            return value
        paths.append("value")
        for start, end in reversed(spans):
            original = text[start:end].encode("utf-8", "surrogateescape")
            text = text[:start] + self.marker("value", original) + text[end:]
        if cpr_spans(text):  # the detector's offsets did not fit the text: mask what is left
            text = mask_cpr_numbers(text)
        if cpr_spans(text):
            return self.marker("value", value).encode()
        return text.encode("utf-8", "surrogateescape")


def _holds_cpr(raw: bytes) -> bool:
    return bool(cpr_spans(raw.decode("utf-8", "replace")))


def redact_text(text: str) -> str:
    """A free text (an error message) with each CPR number masked."""
    masked = mask_cpr_numbers(text)
    return masked if not cpr_spans(masked) else "[redacted: the text held a CPR number]"
