"""Request rules of the provider API: Idempotency-Key, rate limit, body size and type, audit."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from samspil.runtime.db import Connection
from samspil.runtime.http import Problem, problem_response

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
    if key is not None and not (0 < len(key) <= 200 and set(key) <= _KEY_PATTERN):
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


@dataclass
class RateLimiter:
    """A token bucket per provider, per process: ``rate`` requests a second, bursts to ``burst``."""

    rate: float
    burst: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def check(self, provider_id: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(provider_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            retry_after = max(1, round((1 - tokens) / self.rate + 0.5))
            self._buckets[provider_id] = (tokens, now)
            raise Problem(429, "rate-limited", "Too many requests", headers={"Retry-After": str(retry_after)})
        self._buckets[provider_id] = (tokens - 1, now)


class BodyRules(BaseHTTPMiddleware):
    """413 for a body over the limit, 415 for a JSON endpoint sent something else."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
                return problem_response(
                    413, "body-too-large", f"The body may be at most {MAX_BODY_BYTES} bytes"
                )
            if length is None and len(await request.body()) > MAX_BODY_BYTES:
                return problem_response(
                    413, "body-too-large", f"The body may be at most {MAX_BODY_BYTES} bytes"
                )
            expected = (
                "application/x-www-form-urlencoded"
                if request.url.path == "/oauth/token"
                else "application/json"
            )
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != expected:
                return problem_response(415, "unsupported-media-type", f"Send {expected}", expected=expected)
        return await call_next(request)


class AuditTrail(BaseHTTPMiddleware):
    """Every request to the provider API leaves an audit row, also when it is refused."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.url.path.startswith(("/v1/", "/oauth/")):
            state: Any = request.state
            status = response.status_code
            outcome = "ok" if status < 400 else "denied" if status in (401, 403, 404) else "refused"
            try:
                await request.app.state.runtime.pool.execute(
                    "INSERT INTO audit_log"
                    " (client_id, provider_id, method, path, citizen_ref, status, outcome)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    getattr(state, "client_id", None),
                    getattr(state, "provider_id", None),
                    request.method,
                    request.url.path,
                    getattr(state, "citizen_ref", None),
                    status,
                    outcome,
                )
            except Exception:
                log.exception("audit row could not be written")
        return response
