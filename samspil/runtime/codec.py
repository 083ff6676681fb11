"""CloudEvents 1.0 Kafka protocol binding, binary mode: attributes as ``ce_*`` headers, the
event data as the record value, the citizen reference as the key."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.base import EventData
from schemas.cpr import cpr_fields_in_json, cpr_spans, json_text_may_hold_cpr, mask_cpr_numbers
from schemas.envelope import SPEC_VERSION, Envelope

Headers = list[tuple[str, bytes]]

_CONTENT_TYPE = "content-type"
_KNOWN_ATTRIBUTES = frozenset({"specversion", *Envelope.model_fields})
# CloudEvents 1.0: an attribute name is lower-case ASCII letters and digits, at most 20 long.
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")


@dataclass(frozen=True)
class Record:
    """One Kafka record as it is written to and read from the bus."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers


class EnvelopeError(ValueError):
    """The record's headers do not form a valid CloudEvents envelope."""


def encode(envelope: Envelope, data: EventData, topic: str | None = None) -> Record:
    """The record for an event: on its model's default topic unless another is named (a few
    messages, such as a cancellation, may be sent by either side)."""
    headers: Headers = [("ce_specversion", SPEC_VERSION.encode())]
    for name, value in envelope.model_dump(mode="json", exclude_none=True).items():
        if name == "datacontenttype":
            headers.append((_CONTENT_TYPE, str(value).encode()))
        else:
            headers.append((f"ce_{name}", str(value).encode()))
    return Record(
        topic=topic or data.topic.name,
        key=envelope.subject.encode(),
        value=data.model_dump_json().encode(),
        headers=headers,
    )


def decode_envelope(headers: Headers) -> Envelope:
    """Read the envelope from a record's headers; raise EnvelopeError naming what is wrong.

    Attributes the envelope does not know (CloudEvents extensions such as the distributed
    tracing ``traceparent``) are accepted if their names are valid and their values hold no CPR
    number; :func:`extension_attributes` reads them."""
    attributes = _attributes(headers)
    spec = attributes.pop("specversion", None)
    if spec != SPEC_VERSION:
        raise EnvelopeError(f"ce_specversion must be {SPEC_VERSION!r}, got {spec!r}")
    extension_problems = _extension_problems(attributes)
    known = {name: value for name, value in attributes.items() if name in _KNOWN_ATTRIBUTES}
    # The model generates an id and time for new events; a received one must carry its own,
    # or deduplication by event id would be defeated.
    missing = [f"ce_{name}: Field required" for name in ("id", "time") if name not in known]
    try:
        envelope = Envelope.model_validate(known)
    except ValidationError as error:
        raise EnvelopeError(
            "; ".join([*missing, describe_validation_error(error, prefix="ce_"), *extension_problems])
        ) from error
    if missing or extension_problems:
        raise EnvelopeError("; ".join([*missing, *extension_problems]))
    return envelope


def extension_attributes(headers: Headers) -> dict[str, str]:
    """The record's CloudEvents extension attributes the envelope does not model, by name without
    the ``ce_`` prefix (e.g. ``traceparent``, ``tracestate``). Only names valid as extensions are
    returned; a record that :func:`decode_envelope` accepted has no other."""
    return {
        name: value
        for name, value in _attributes(headers).items()
        if name not in _KNOWN_ATTRIBUTES and _EXTENSION_NAME.fullmatch(name)
    }


def _attributes(headers: Headers) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name, raw in headers:
        if name.startswith("ce_"):
            attributes[name[3:]] = (raw or b"").decode("utf-8", errors="replace")
        elif name == _CONTENT_TYPE:
            attributes["datacontenttype"] = (raw or b"").decode("utf-8", errors="replace")
    return attributes


def _extension_problems(attributes: dict[str, str]) -> list[str]:
    """What is wrong with the unknown attributes, never echoing a CPR number or a value: a dead
    letter and the logs keep this text."""
    problems = []
    for name, value in attributes.items():
        if name in _KNOWN_ATTRIBUTES:
            continue
        shown = f"ce_{mask_cpr_numbers(name)}"
        if not _EXTENSION_NAME.fullmatch(name):
            shown = safe_text(shown[:40] + ("..." if len(shown) > 40 else ""))
            problems.append(
                f"{shown}: not a CloudEvents attribute name (lower-case a-z and 0-9, at most 20 long)"
            )
        elif cpr_spans(name) or cpr_spans(value):
            problems.append(f"{shown}: must not contain a CPR number")
    return problems


def decode_data(model: type[EventData], value: bytes) -> EventData:
    """The record's data as its model; ValueError naming each failing field. A CPR number in any
    string of the data is refused whatever the model's field types, so none is ever handled.
    The data's text is scanned once; only a text that may hold one is read string by string."""
    try:
        clean = not json_text_may_hold_cpr(value.decode("utf-8"))
    except UnicodeDecodeError:
        clean = False  # UTF-16 or UTF-32 JSON, or not JSON: read it as json.loads does
    if not clean:
        try:
            document = json.loads(value)
        except RecursionError:
            raise ValueError("data: nested too deeply") from None
        except ValueError:
            document = None
        if fields := cpr_fields_in_json(document, "data"):
            raise ValueError("; ".join(f"{field}: must not contain a CPR number" for field in fields))
    try:
        return model.model_validate_json(value)
    except ValidationError as error:
        raise ValueError(describe_validation_error(error)) from error


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """A short, CPR-free description naming each failing field (never echoing input)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(root)"
        parts.append(f"{prefix}{location}: {item['msg']}")
    return "; ".join(parts)


def header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return (value or b"").decode("utf-8", errors="replace")
    return None


def safe_text(value: str) -> str:
    """Text that PostgreSQL's ``text`` accepts whatever a sender put in it: NUL and lone
    surrogates are written as escapes."""
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
