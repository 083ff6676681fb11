"""Idempotency-Key, with one meaning on every API.

A request sent with an ``Idempotency-Key`` runs its work in one transaction that also keeps the
key and the first answer: both commit with the work, or none of it does, so a crash can never
leave the work done without its key. A repeat with the same key and the same request (method,
path and body) changes nothing and gets the first answer again, with ``Idempotent-Replayed:
true``; with another request it is refused (422 ``idempotency-key-reused``). A repeat sent while
the first still runs waits for it (the first's insert of the key locks it). Keys are per caller:
the gateway's per provider, a department's per token subject. Only a successful (2xx) answer is
kept: a refused request leaves nothing behind and may be sent again with the same key.

The key is the caller's free text and the body may hold a CPR number (a department's
enrolment), so only keyed hashes of them are kept.

The gateway requires the key on every POST (`provider_gateway.entrypoints.guards`); a
department's routes take it when it is sent (`KeyedRoute`, with `samspil.runtime.http.unit_of_work`
taking the connection and claiming the key once the caller is known: a request whose token is
refused never holds a connection).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from samspil.runtime.db import Connection
from samspil.runtime.http import Problem

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
_KEYED_METHODS = frozenset({"POST"})


@dataclass(frozen=True)
class KeyTable:
    """Where a service keeps its keys: the table and the column naming the caller."""

    name: str
    caller_column: str


# The runtime's table (migration 009), in every service's database.
DEPARTMENT_KEYS = KeyTable("idempotent_request", "caller")


@dataclass(frozen=True)
class Answer:
    """The first answer to a key: its status and JSON body (None: no body, e.g. 204)."""

    status_code: int
    content: Any

    def replayed(self) -> Response:
        headers = {REPLAYED_HEADER: "true"}
        if self.content is None:
            return Response(status_code=self.status_code, headers=headers)
        return JSONResponse(self.content, status_code=self.status_code, headers=headers)


def key_problem() -> Problem:
    return Problem(
        422,
        "validation-failed",
        "The request is not valid",
        errors=[
            {
                "field": f"header.{KEY_HEADER}",
                "message": "1-200 letters, digits or -_.:",
                "code": "invalid",
            }
        ],
    )


def kept_key(key: str | None, secret: str) -> str:
    """The key as it is kept: a keyed hash, so whatever the caller typed into it (a CPR number by
    mistake, a name) is never stored, and no key is refused for it. 422 naming the header when
    it is missing or malformed."""
    if key is None or not (0 < len(key) <= 200 and set(key) <= _KEY_CHARACTERS):
        raise key_problem()
    return "h1:" + hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def request_hash(method: str, path: str, body: bytes, secret: str | None = None) -> str:
    """What identifies the request a key was sent with; keyed when the body may hold personal
    data."""
    message = f"{method} {path}\n".encode() + body
    if secret is None:
        return hashlib.sha256(message).hexdigest()
    return "h1:" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def claim(conn: Connection, table: KeyTable, caller: str, key: str, request_hash: str) -> Answer | None:
    """Take the key for this request in the caller's transaction: None when it is new (the work
    goes on, and `keep` stores its answer), the first answer when the same request was made with
    it before; 422 when another request was."""
    fresh = await conn.fetchval(
        f"INSERT INTO {table.name} ({table.caller_column}, key, request_hash) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        caller,
        key,
        request_hash,
    )
    if fresh:
        return None
    first = await conn.fetchrow(
        f"SELECT request_hash, status_code, response FROM {table.name}"
        f" WHERE {table.caller_column} = $1 AND key = $2",
        caller,
        key,
    )
    assert first is not None  # the INSERT above found it, and it is committed
    if first["request_hash"] != request_hash:
        raise Problem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was used for another request; use a new key for a new request",
        )
    content = None if first["response"] is None else json.loads(first["response"])
    return Answer(first["status_code"], content)


async def keep(conn: Connection, table: KeyTable, caller: str, key: str, answer: Answer) -> None:
    """Store the answer to a key `claim` took, in the same transaction as the work."""
    await conn.execute(
        f"UPDATE {table.name} SET status_code = $3, response = $4::jsonb"
        f" WHERE {table.caller_column} = $1 AND key = $2",
        caller,
        key,
        answer.status_code,
        None if answer.content is None else json.dumps(answer.content),
    )


class _Replay(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__("replayed")
        self.answer = answer


@dataclass
class HeldRequest:
    """A keyed request: the connection and transaction its work, key and answer share, taken
    only when the work begins (the caller is verified by then, so a request with a junk token
    never holds one of the pool's connections)."""

    pool: Any
    key: str
    request_hash: str
    caller: str | None = None
    conn: Connection | None = None
    _transaction: Any = None
    _connection: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def claim_once(self, request: Request) -> Connection:
        """Take a connection, begin the transaction and claim the key in it when the work begins;
        raises to answer a repeat with the first answer."""
        if self.conn is not None:
            return self.conn
        verified = getattr(request.state, "caller", None)
        caller = "" if verified is None else verified.subject
        conn: Connection = await self._connection.enter_async_context(self.pool.acquire())
        transaction = conn.transaction()
        await transaction.start()
        self.conn, self._transaction, self.caller = conn, transaction, caller
        first = await claim(conn, DEPARTMENT_KEYS, caller, self.key, self.request_hash)
        if first is not None:
            raise _Replay(first)
        return conn

    async def rollback(self) -> None:
        if self._transaction is not None:
            await self._transaction.rollback()

    async def commit(self) -> None:
        await self._transaction.commit()

    async def release(self) -> None:
        """Give the connection back (the pool resets one left in a transaction)."""
        await self._connection.aclose()


_HELD = "idempotent_request"


def held_request(request: Request) -> HeldRequest | None:
    held: HeldRequest | None = getattr(request.state, _HELD, None)
    return held


def reads(request: Request) -> Any:
    """Where a route reads what its own work wrote: the keyed request's connection (its
    transaction is not committed until the answer is kept), or else the pool."""
    held = held_request(request)
    return request.app.state.runtime.pool if held is None else held.conn


# How a keyed route documents the header (it is read by the route class, not a parameter).
_KEY_PARAMETER = {
    "name": KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "Optional. The same key with the same request again gets the first answer "
    "(with Idempotent-Replayed: true) and changes nothing; with another request it is refused "
    "(422 idempotency-key-reused). Keys are per caller and kept at least a day.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[A-Za-z0-9._:-]+$"},
}


class KeyedRoute(APIRoute):
    """A department route that honours an ``Idempotency-Key`` when one is sent with a POST: the
    route's work (`unit_of_work`), the key and the answer share one transaction, committed after
    the answer is made. Without the header the route runs as it always has."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        if "POST" in (options.get("methods") or ()):
            extra = dict(options.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), _KEY_PARAMETER]
            options["openapi_extra"] = extra
        super().__init__(path, endpoint, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def keyed(request: Request) -> Response:
            if request.method not in _KEYED_METHODS or KEY_HEADER.lower() not in request.headers:
                return await handle(request)
            secret: str = request.app.state.runtime.settings.dead_letter_key
            key = kept_key(request.headers.get(KEY_HEADER), secret)
            digest = request_hash(request.method, request.url.path, await request.body(), secret)
            # No connection yet: the route's dependencies (the token and role checks) run first,
            # and `unit_of_work` takes one and claims the key when the work begins.
            held = HeldRequest(request.app.state.runtime.pool, key, digest)
            setattr(request.state, _HELD, held)
            try:
                return await self._answer(held, handle, request)
            finally:
                delattr(request.state, _HELD)
                await held.release()

        return keyed

    @staticmethod
    async def _answer(
        held: HeldRequest, handle: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
    ) -> Response:
        try:
            response = await handle(request)
        except _Replay as repeat:
            await held.rollback()
            return repeat.answer.replayed()
        except BaseException:
            await held.rollback()
            raise
        if held.conn is None or held.caller is None or not 200 <= response.status_code < 300:
            # No work was done under the key, or it was refused: nothing is kept.
            await held.rollback()
            return response
        try:
            content = json.loads(bytes(response.body)) if response.body else None
            await keep(
                held.conn, DEPARTMENT_KEYS, held.caller, held.key, Answer(response.status_code, content)
            )
        except BaseException:
            await held.rollback()
            raise
        # A failed commit leaves the connection to the pool's reset on release.
        await held.commit()
        return response
