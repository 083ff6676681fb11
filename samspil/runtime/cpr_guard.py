"""No CPR number past the door of an HTTP API (ASGI middleware, on every service).

Before any route runs, the request's path, its query parameters and every string and
member name of a JSON or form body are read by the one CPR detector (`schemas.cpr`). No request
header is stored or forwarded as sent (the gateway keeps only a keyed hash of an
``Idempotency-Key``), so headers are not read; numbers are typed and bounded by the models.
A request that holds a CPR number anywhere answers
422 naming the field, without echoing it, and reaches no handler, database or log. The one
exception is a field that is meant to carry the number, such as ``cpr`` when a department enrols
a citizen: routes name those fields in ``allowed``.

Web forms answer a person, not a program: under the path prefixes named in ``forms_to_routes``
(the gateway's portal forms), a form body's values that hold a CPR number are emptied before the
route sees them, and their names listed in the request's state (``CPR_FIELDS``), so the route
shows the form again with a message by each such field; the number still reaches no handler.

A form body (URL-encoded or multipart) is read by Starlette's own parsers, the ones the route's
``request.form()`` uses, so the guard sees each field exactly as the route will: URL-encoded
bytes as Latin-1, a multipart part in its charset or else as Latin-1. A form the parsers refuse
answers 400, as the route would.

The models check their free-text fields too; this guard is what makes "every field" true for
fields a model types loosely, for path parameters and for headers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from samspil.runtime.http import problem_response
from schemas.cpr import contains_cpr, cpr_fields_in_json, unescaped

_MESSAGE = "must not contain a CPR number"
# A department's enrolment: the one body field that exists to carry a CPR number.
ENROLMENT_CPR_FIELD: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/citizens"): frozenset({"body.cpr"})
}
# The request state's list of form fields whose CPR number was taken out (`forms_to_routes`).
CPR_FIELDS = "cpr_fields"
# The most a department's API reads of a body (the gateway refuses more than 64 KiB before this).
MAX_BODY_BYTES = 1024 * 1024


class CprGuard:
    """ASGI middleware: 422 for a request with a CPR number anywhere it is not asked for."""

    def __init__(
        self,
        app: Any,
        allowed: Mapping[tuple[str, str], frozenset[str]] | None = None,
        forms_to_routes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.allowed = dict(allowed or {})
        self.forms_to_routes = forms_to_routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields = self._fields_outside_body(scope)
        method = scope["method"]
        if method not in ("POST", "PUT", "PATCH"):
            if fields:
                await _refuse(fields, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                response = problem_response(
                    413, "body-too-large", f"The body may be at most {MAX_BODY_BYTES} bytes"
                )
                await response(scope, receive, send)
                return
        allowed = self.allowed.get((method, scope["path"].rstrip("/")), frozenset())
        try:
            form = await _form(scope, body)
        except MultiPartException as refused:
            response = problem_response(400, "bad-form", "The form cannot be read", detail=refused.message)
            await response(scope, receive, send)
            return
        rewrites = self.forms_to_routes and scope["path"].startswith(self.forms_to_routes)
        if form is not None and not fields and rewrites:
            body, form = _form_without_cpr(scope, body, form)
        try:
            fields += _fields_in_body(scope, body, form, allowed)
        except TooDeep:
            await _refuse_with(["body"], "is nested too deeply", "too-deep", scope, receive, send)
            return
        if fields:
            await _refuse(fields, scope, receive, send)
            return

        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        await self.app(scope, replay, send)

    @staticmethod
    def _fields_outside_body(scope: Any) -> list[str]:
        fields = []
        if contains_cpr(scope["path"]):
            fields.append("path")
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True) if query else ():
            if contains_cpr(name) or contains_cpr(value):
                fields.append(f"query.{name}" if not contains_cpr(name) else "query")
        return fields


# A form's fields as the route reads them: a file's content as bytes.
Form = list[tuple[str, str | bytes]]


async def _form(scope: Any, body: bytes) -> Form | None:
    """The body's form fields exactly as the route's ``request.form()`` reads them (Starlette's
    parsers, chosen as Starlette chooses them), or None for a body that is not a form."""
    headers = Headers(scope=scope)
    media_type, _ = parse_options_header(headers.get("content-type"))

    async def stream() -> AsyncGenerator[bytes]:
        yield body

    if media_type == b"application/x-www-form-urlencoded":
        parsed = await FormParser(headers, stream()).parse()
    elif media_type == b"multipart/form-data":
        parsed = await MultiPartParser(headers, stream()).parse()
    else:
        return None
    form: Form = []
    try:
        for name, value in parsed.multi_items():
            if isinstance(value, str):
                form.append((name, value))
            else:
                form += [(name, value.filename or ""), (name, await value.read())]
    finally:
        await parsed.close()
    return form


def _fields_in_body(scope: Any, body: bytes, form: Form | None, allowed: frozenset[str]) -> list[str]:
    if not body:
        return []
    if form is not None:
        # A client secret is random, not text a person wrote; it is never stored in clear. A
        # route may name other such fields (a password, only ever hashed) in ``allowed``.
        named = sorted(
            {
                f"body.{name}"
                for name, value in form
                if name != "client_secret"
                and f"body.{name}" not in allowed
                and (contains_cpr(name) or _holds_cpr(value))
            }
        )
        if not named and _content_type(scope) == "multipart/form-data" and _holds_cpr(body):
            return ["body"]  # in a part's headers: a multipart form is never rewritten
        return named
    try:
        # From the bytes, as the route will read them: UTF-16 and UTF-32 are detected too.
        document = json.loads(body)
    except RecursionError:
        raise TooDeep from None
    except ValueError:
        # Not JSON (the route will refuse it): still refuse a CPR number anywhere in it.
        as_text = body.decode(json.detect_encoding(body), "replace")
        return ["body"] if contains_cpr(as_text) or contains_cpr(unescaped(as_text)) else []
    return cpr_fields_in_json(document, "body", allowed)


def _holds_cpr(value: str | bytes) -> bool:
    if isinstance(value, str):
        return contains_cpr(value)
    # A file's name and content: the route may read its bytes in any of these ways.
    return any(contains_cpr(value.decode(codec, "replace")) for codec in ("utf-8", "latin-1"))


def _form_without_cpr(scope: Any, body: bytes, form: Form) -> tuple[bytes, Form]:
    """A URL-encoded form with every value that holds a CPR number emptied (a field whose name
    holds one dropped), their names listed in the request's state, the other fields re-encoded
    so the route reads them as it would have; any other body as it is."""
    if _content_type(scope) != "application/x-www-form-urlencoded":
        return body, form
    kept: Form = []
    emptied = []
    for name, value in form:
        if contains_cpr(name):
            emptied.append("_form")
        elif _holds_cpr(value):
            kept.append((name, ""))
            emptied.append(name)
        else:
            kept.append((name, value))
    if not emptied:
        return body, form
    scope.setdefault("state", {})[CPR_FIELDS] = emptied
    # UTF-8 percent-escapes, which Starlette decodes back to the very same text.
    rewritten = urlencode(kept).encode()
    scope["headers"] = [
        *((name, value) for name, value in scope["headers"] if name.lower() != b"content-length"),
        (b"content-length", str(len(rewritten)).encode()),
    ]
    return rewritten, kept


def _content_type(scope: Any) -> str:
    """The media type as Starlette reads it to choose a form parser."""
    media_type, _ = parse_options_header(Headers(scope=scope).get("content-type"))
    return media_type.decode("latin-1")


class TooDeep(Exception):
    """A JSON body nested deeper than the parser goes."""


async def _refuse(fields: list[str], scope: Any, receive: Any, send: Any) -> None:
    await _refuse_with(fields, _MESSAGE, "cpr-number", scope, receive, send)


async def _refuse_with(
    fields: list[str], message: str, code: str, scope: Any, receive: Any, send: Any
) -> None:
    errors = [{"field": field, "message": message, "code": code} for field in fields]
    response = problem_response(
        422,
        "validation-failed",
        "The request is not valid",
        detail="; ".join(f"{field}: {message}" for field in fields),
        errors=errors,
    )
    await response(scope, receive, send)
