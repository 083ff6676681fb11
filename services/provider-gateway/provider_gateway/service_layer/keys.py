"""The gateway's Idempotency-Key, for every way a provider writes (the API's Idempotency-Key
header and the portal's forms): the work, the key and its first answer in one transaction, so a
repeat changes nothing and gets the first answer again (`samspil.runtime.idempotency` says the
whole rule). The caller owns the transaction and writes its audit row in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel

from samspil.runtime import idempotency
from samspil.runtime.db import Connection

# The gateway's own table (it came before the runtime's): the API's one-statement report path
# writes it too, `repository._REPORT_AT_ONCE`.
GATEWAY_KEYS = idempotency.KeyTable("idempotency_key", "provider_id")

Work = Callable[[Connection], Awaitable[tuple[int, BaseModel]]]


@dataclass(frozen=True)
class RequestKey:
    """A key as it is kept (`idempotency.kept_key`) and the hash of the request it came with."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class Outcome:
    """The answer to a keyed request: the first one, or that first one again for a repeat."""

    answer: idempotency.Answer
    replayed: bool


async def first_or_repeat(conn: Connection, provider_id: str, key: RequestKey, work: Work) -> Outcome:
    """Claim the key in the caller's transaction and do the work, keeping its answer; a repeat of
    the same request gets the first answer and does nothing; another request with the key is
    refused (422 ``idempotency-key-reused``). A concurrent repeat waits for the first."""
    first = await idempotency.claim(conn, GATEWAY_KEYS, provider_id, key.key, key.request_hash)
    if first is not None:
        return Outcome(first, replayed=True)
    status_code, body = await work(conn)
    answer = idempotency.Answer(status_code, body.model_dump(mode="json"))
    await idempotency.keep(conn, GATEWAY_KEYS, provider_id, key.key, answer)
    return Outcome(answer, replayed=False)
