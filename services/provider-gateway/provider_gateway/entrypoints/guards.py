"""Request rules of the provider API: Idempotency-Key, body size and type, audit. Rate limits are in
`limits`."""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.datastructures import URL

from provider_gateway.adapters import repository
from provider_gateway.domain.credentials import TokenClaims
from provider_gateway.service_layer import keys
from samspil.runtime import idempotency
from samspil.runtime.codec import safe_text
from samspil.runtime.db import Connection
from samspil.runtime.http import Problem, problem_response
from samspil.runtime.outbox import outbox_columns
from schemas.envelope import Envelope, mask_cpr_numbers
from schemas.provider_reports import ProviderReport
from schemas.referrals import CLOSED_STATUSES

log = structlog.get_logger("provider_gateway.guards")

MAX_BODY_BYTES = 64 * 1024
T = TypeVar("T")


async def idempotent(
    request: Request, provider_id: str, work: Callable[[Connection], Awaitable[tuple[int, BaseModel]]]
) -> Response:
    """Run ``work`` in one transaction. With an Idempotency-Key, the first response to that key
    is stored in the same transaction and returned again for a repeat with the same body; a
    repeat with another body is refused. A concurrent repeat waits for the first to finish."""
    kept_key, request_hash = await _key_and_hash(request)
    outcome = await keyed(request, provider_id, keys.RequestKey(kept_key, request_hash), work)
    if outcome.replayed:
        return outcome.answer.replayed()
    return JSONResponse(outcome.answer.content, status_code=outcome.answer.status_code)


async def keyed(
    request: Request,
    provider_id: str,
    key: keys.RequestKey,
    work: keys.Work,
    *,
    audit_status: int | None = None,
) -> keys.Outcome:
    """``work`` under ``key`` (`keys.first_or_repeat`) in one transaction with the request's
    audit row, which says ``audit_status`` (by default the answer's status): both commit or
    neither does. The API's `idempotent` and the portal's forms write through here."""
    async with request.app.state.runtime.pool.acquire() as conn:
        async with conn.transaction():
            outcome = await keys.first_or_repeat(conn, provider_id, key, work)
            # The audit row commits with the work, or neither does.
            await _record_in(conn, request.scope, audit_status or outcome.answer.status_code)
        _mark_recorded(request.scope)
    return outcome


async def audited(request: Request, status_code: int, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction with the request's audit row (answering ``status_code``):
    both commit or neither does (503 when the row cannot be written). For writes that are not
    idempotent by key (webhook endpoints). A refusal ``work`` raises rolls it back, and its row
    is written by the AuditTrail gate."""
    async with request.app.state.runtime.pool.acquire() as conn:
        async with conn.transaction():
            result = await work(conn)
            await _record_in(conn, request.scope, status_code)
        _mark_recorded(request.scope)
    return result


async def _key_and_hash(request: Request) -> tuple[str, str]:
    """The Idempotency-Key as it is kept, and the hash of the request it was sent with; 422
    naming the header when there is none or it is malformed."""
    key = idempotency.kept_key(
        request.headers.get(idempotency.KEY_HEADER), request.app.state.settings.dead_letter_key
    )
    return key, idempotency.request_hash(request.method, _url_path(request.scope), await request.body())


def _url_path(scope: Any) -> str:
    """``request.url.path`` without building the URL: the hash of a request sent again must not
    change. A printable ASCII path without the characters Starlette escapes there (or that
    ``urlsplit`` drops) reads the same; any other is read as it always was."""
    path: str = scope["path"]
    if path.isascii() and path.isprintable() and not ("?" in path or "#" in path or "\\" in path):
        return path
    return str(URL(scope=scope).path)


class ReferralCitizens:
    """Which citizen each referral is about, as reports to it found (per process, the most
    recently used ``capacity`` referrals). Safe to keep: a referral's citizen never changes, and
    the statement that uses it checks it again with the referral's status and the client."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._known: OrderedDict[tuple[uuid.UUID, str], str] = OrderedDict()

    def get(self, referral_id: uuid.UUID, provider_id: str) -> str | None:
        citizen_ref = self._known.get((referral_id, provider_id))
        if citizen_ref is not None:
            self._known.move_to_end((referral_id, provider_id))
        return citizen_ref

    def remember(self, referral_id: uuid.UUID, provider_id: str, citizen_ref: str) -> None:
        self._known[(referral_id, provider_id)] = citizen_ref
        self._known.move_to_end((referral_id, provider_id))
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)


async def report_at_once(
    request: Request,
    claims: TokenClaims,
    kind: str,
    report: ProviderReport,
    envelope: Envelope,
    answer: BaseModel,
) -> Response | None:
    """A report recorded the short way: one statement, one round trip, holding what
    ``idempotent()`` and the client check would write and check (see
    `repository.record_report_at_once`). None when it wrote nothing: a check failed or the key
    was used before, and the long way answers (and says why)."""
    kept_key, request_hash = await _key_and_hash(request)
    # Rendered once, for the answer and the key's stored copy, as JSONResponse renders it.
    body = json.dumps(
        answer.model_dump(mode="json"), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()
    request.state.citizen_ref = envelope.subject
    audit_client_id, _, audit_method, audit_path, *_ = _audit_values(request.scope, 202)
    try:
        written = await repository.record_report_at_once(
            request.app.state.report_connections.pool or request.app.state.runtime.pool,
            repository.ReportAtOnce(
                client_id=claims.client_id,
                provider_id=claims.provider_id,
                token_generation=claims.generation,
                referral_id=report.referral_id,
                citizen_ref=envelope.subject,
                closed_statuses=_CLOSED_STATUSES,
                key=kept_key,
                request_hash=request_hash,
                status_code=202,
                response=body.decode(),
                submission_id=report.submission_id,
                kind=kind,
                outbox_row=outbox_columns(envelope, report),
                audit_client_id=audit_client_id,
                audit_method=audit_method,
                audit_path=audit_path,
            ),
        )
    except asyncpg.PostgresConnectionError:
        # The connection went: the statement may have been committed before it did, so the
        # long way would answer the caller's first attempt as its replay, audited twice.
        raise
    except asyncpg.PostgresError as error:
        # Refused as a whole, so nothing was written: the long way does it again and answers
        # as it always has (503 when the audit row cannot be written, 422 for data the
        # database refuses).
        log.info("report not recorded the short way", error=type(error).__name__)
        written = False
    if not written:
        del request.state.citizen_ref
        return None
    _mark_recorded(request.scope)
    return Response(body, status_code=202, media_type=JSONResponse.media_type)


_CLOSED_STATUSES: list[str] = sorted(CLOSED_STATUSES)


class BodyRules:
    """413 for a body over the limit, 415 for a JSON endpoint sent something else (ASGI); a
    request with an empty body and no Content-Type passes, for the route to judge."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = content_type = None
        for name, value in scope["headers"]:  # the last of each, as a dict of them all kept
            lowered = name.lower()
            if lowered == b"content-length":
                length = value.decode("latin-1")
            elif lowered == b"content-type":
                content_type = value.decode("latin-1")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _answer(scope, receive, send, _too_large())
            return
        # The token endpoint and the portal's forms take form posts, the API JSON.
        expected = (
            "application/x-www-form-urlencoded"
            if scope["path"] == "/oauth/token" or scope["path"].startswith("/portal/")
            else "application/json"
        )
        # A POST with no body at all (e.g. rotating a webhook secret) has no type to check.
        bodyless = length == "0" and content_type is None
        if not bodyless and (content_type or "").split(";")[0].strip().lower() != expected:
            await _answer(
                scope,
                receive,
                send,
                problem_response(415, "unsupported-media-type", f"Send {expected}", expected=expected),
            )
            return
        if length is None:  # a chunked body: read it, within the limit, and hand it on
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client went away mid-upload: nothing to answer
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > MAX_BODY_BYTES:
                    await _answer(scope, receive, send, _too_large())
                    return
            body = b"".join(chunks)

            async def replay() -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


def _masked(value: str | None) -> str | None:
    return None if value is None else mask_cpr_numbers(value)


def _too_large() -> Response:
    return problem_response(413, "body-too-large", f"The body may be at most {MAX_BODY_BYTES} bytes")


async def _answer(scope: Any, receive: Any, send: Any, response: Response) -> None:
    await response(scope, receive, send)


AUDIT_UNAVAILABLE = "audit-unavailable"


AUDITED = ("/v1/", "/oauth/", "/portal/")
NOT_AUDITED = ("/portal/static/",)


def audited_path(path: str) -> bool:
    """The API's paths and the portal's pages and forms (not its static files)."""
    return path.startswith(AUDITED) and not path.startswith(NOT_AUDITED)


class AuditTrail:
    """Every request to the provider API and the portal leaves exactly one audit row, also when
    it is refused, and no answer leaves before its row is committed (ASGI).

    A request that changes something runs in ``idempotent()``, which writes the row in the
    transaction of the work. For any other answer (a read, a refusal, an error) the row is written
    here when the app starts its response, before the status line goes out; if it cannot be
    written the caller gets 503 instead, and the original answer is dropped."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not audited_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        gate = _AuditGate(scope, send)
        try:
            await self.app(scope, receive, gate.send)
        except Exception:
            # The server's error handler would answer 500 past this gate: answer it here, after
            # its row, and let the error go on to be logged.
            if not gate.started:
                await _answer(scope, receive, gate.send, _internal_error())
            raise


class _AuditGate:
    def __init__(self, scope: Any, send: Any) -> None:
        self.scope = scope
        self._send = send
        self.started = False
        self._replaced = False

    async def send(self, message: Any) -> None:
        if message["type"] != "http.response.start":
            if not self._replaced:
                await self._send(message)
            return
        self.started = True
        if not self.scope.get("state", {}).get(_RECORDED):
            try:
                await _record_alone(self.scope, message["status"])
            except Exception as error:
                # Only the error's type: a database error may quote the values it refused.
                log.error("audit row could not be written; answering 503", error=type(error).__name__)
                self._replaced = True
                await _answer(self.scope, _no_body, self._send, _audit_unavailable())
                return
        await self._send(message)


_RECORDED = "audit_recorded"
_AUDIT_INSERT = (
    "INSERT INTO audit.audit_log (client_id, provider_id, method, path, citizen_ref, status, outcome)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_PATH = 2000


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def _audit_values(scope: Any, status: int) -> tuple[Any, ...]:
    state = scope.get("state", {})
    outcome = "ok" if status < 400 else "denied" if status in (401, 403, 404) else "refused"
    # What the request asked for beyond its path, set by a route (e.g. the portal inbox's search
    # term, "#search:<term>"), is kept in the path column after it.
    detail = state.get("audit_detail") or ""
    return (
        # What a caller typed (a client id, a path, even a method) is masked: it may hold a CPR
        # number, and control characters (a NUL cannot even be stored) are written as escapes.
        _masked(state.get("client_id")),
        state.get("provider_id"),
        scope["method"] if scope["method"] in _METHODS else "OTHER",
        mask_cpr_numbers(safe_text(_CONTROL.sub(_escaped, scope["path"] + detail))[:_MAX_PATH]),
        state.get("citizen_ref"),
        status,
        outcome,
    )


async def _record_in(conn: Connection, scope: Any, status: int) -> None:
    try:
        await conn.execute(_AUDIT_INSERT, *_audit_values(scope, status))
    except Exception as error:
        log.error("audit row could not be written; the work is rolled back", error=type(error).__name__)
        raise _audit_problem() from None


async def record_audit_row(
    pool: asyncpg.Pool,
    *,
    client_id: str | None,
    provider_id: str | None,
    method: str,
    path: str,
    citizen_ref: str | None,
    status: int,
) -> None:
    """One audit row written on its own (the portal's extra facts), masked as a request's is."""
    scope = {
        "method": method,
        "path": path,
        "state": {"client_id": client_id, "provider_id": provider_id, "citizen_ref": citizen_ref},
    }
    await pool.execute(_AUDIT_INSERT, *_audit_values(scope, status))


async def _record_alone(scope: Any, status: int) -> None:
    await scope["app"].state.runtime.pool.execute(_AUDIT_INSERT, *_audit_values(scope, status))


def _mark_recorded(scope: Any) -> None:
    scope.setdefault("state", {})[_RECORDED] = True


_AUDIT_TITLE = "The request could not be recorded in the audit trail, so nothing was done; try again later"


def _audit_problem() -> Problem:
    return Problem(503, AUDIT_UNAVAILABLE, _AUDIT_TITLE, headers={"Retry-After": "5"})


def _audit_unavailable() -> Response:
    return problem_response(503, AUDIT_UNAVAILABLE, _AUDIT_TITLE, headers={"Retry-After": "5"})


def _internal_error() -> Response:
    return problem_response(500, "internal-error", "Something went wrong on our side")


async def _no_body() -> dict[str, Any]:
    return {"type": "http.disconnect"}
