"""Request rules of the provider API: Idempotency-Key, body size and type, audit. Rate limits are in
`limits`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from samspil.runtime.db import Connection
from samspil.runtime.http import Problem, problem_response
from samspil.runtime.metrics import ResponseStatus
from schemas.envelope import mask_cpr_numbers

log = structlog.get_logger("provider_gateway.guards")

MAX_BODY_BYTES = 64 * 1024
_KEY_PATTERN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


async def idempotent(
    request: Request, provider_id: str, work: Callable[[Connection], Awaitable[tuple[int, BaseModel]]]
) -> Response:
    """Run ``work`` in one transaction. With an Idempotency-Key, the first response to that key
    is stored in the same transaction and returned again for a repeat with the same body; a
    repeat with another body is refused. A concurrent repeat waits for the first to finish."""
    key = request.headers.get("idempotency-key")
    if key is None or not (0 < len(key) <= 200 and set(key) <= _KEY_PATTERN):
        raise Problem(
            422,
            "validation-failed",
            "The request is not valid",
            errors=[
                {
                    "field": "header.Idempotency-Key",
                    "message": "1-200 letters, digits or -_.:",
                    "code": "invalid",
                }
            ],
        )
    request_hash = hashlib.sha256(
        f"{request.method} {request.url.path}\n".encode() + await request.body()
    ).hexdigest()
    async with request.app.state.runtime.pool.acquire() as conn, conn.transaction():
        if key is not None:
            fresh = await conn.fetchval(
                "INSERT INTO idempotency_key (provider_id, key, request_hash) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                provider_id,
                key,
                request_hash,
            )
            if not fresh:
                first = await conn.fetchrow(
                    "SELECT request_hash, status_code, response FROM idempotency_key"
                    " WHERE provider_id = $1 AND key = $2",
                    provider_id,
                    key,
                )
                if first["request_hash"] != request_hash:
                    raise Problem(
                        422,
                        "idempotency-key-reused",
                        "This Idempotency-Key was used for another request; use a new key for a new request",
                    )
                return JSONResponse(
                    json.loads(first["response"]),
                    status_code=first["status_code"],
                    headers={"Idempotent-Replayed": "true"},
                )
        status_code, body = await work(conn)
        content = body.model_dump(mode="json")
        if key is not None:
            await conn.execute(
                "UPDATE idempotency_key SET status_code = $3, response = $4::jsonb"
                " WHERE provider_id = $1 AND key = $2",
                provider_id,
                key,
                status_code,
                json.dumps(content),
            )
    return JSONResponse(content, status_code=status_code)


class BodyRules:
    """413 for a body over the limit, 415 for a JSON endpoint sent something else (ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _answer(scope, receive, send, _too_large())
            return
        expected = (
            "application/x-www-form-urlencoded" if scope["path"] == "/oauth/token" else "application/json"
        )
        if headers.get("content-type", "").split(";")[0].strip().lower() != expected:
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


class AuditTrail:
    """Every request to the provider API leaves an audit row, also when it is refused (ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v1/", "/oauth/")):
            await self.app(scope, receive, send)
            return
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response.send)
        finally:
            await self._write(scope, response.status)

    @staticmethod
    async def _write(scope: Any, status: int) -> None:
        state = scope.get("state", {})
        outcome = "ok" if status < 400 else "denied" if status in (401, 403, 404) else "refused"
        try:
            await scope["app"].state.runtime.pool.execute(
                "INSERT INTO audit_log"
                " (client_id, provider_id, method, path, citizen_ref, status, outcome)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                # What a caller typed (a client id, a path) is masked: it may hold a CPR number.
                _masked(state.get("client_id")),
                state.get("provider_id"),
                scope["method"],
                mask_cpr_numbers(scope["path"]),
                state.get("citizen_ref"),
                status,
                outcome,
            )
        except Exception:
            log.exception("audit row could not be written")
