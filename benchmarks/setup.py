"""What several benchmarks need on a running stack: tokens, a provider client, and referrals
made through the employment API that the gateway has seen."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from samspil.local.runner import LocalStack
from samspil.runtime.auth import EMPLOYMENT_AUDIENCE, Role, issue_local_token
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted, AbsenceReason, ContactAttempt, ContactChannel

CASEWORKER = "bench-caseworker"
ABSENCE_NOTICE = {"absent_from": "2026-11-16", "reason": "illness", "contact_attempts": 1}


@dataclass(frozen=True)
class Referral:
    referral_id: str
    citizen_ref: str


def caseworker_token(env: Mapping[str, str]) -> str:
    return issue_local_token(
        env["SAMSPIL_AUTH_SECRET"],
        subject=CASEWORKER,
        roles=[Role.EMPLOYMENT_CASEWORKER],
        team="Benchmark team",
        name="Benchmark caseworker",
        audience=EMPLOYMENT_AUDIENCE,
    )


def provider_token(env: Mapping[str, str], provider: str) -> str:
    from provider_gateway.domain.credentials import MAX_TOKEN_LIFETIME, TokenClaims, issue_token

    return issue_token(
        TokenClaims(provider, provider, int(time.time()) + MAX_TOKEN_LIFETIME),
        env["PROVIDER_GATEWAY_TOKEN_SECRET"],
    )


async def add_provider_client(env: Mapping[str, str], provider: str) -> None:
    """A provider client (its id is the provider's) whose tokens the gateway accepts."""
    gateway_db = await asyncpg.connect(env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        await gateway_db.execute(
            "INSERT INTO provider_client VALUES ($1, $2, 'unused') ON CONFLICT DO NOTHING", provider, provider
        )
    finally:
        await gateway_db.close()


async def refer_citizens(
    stack: LocalStack, env: Mapping[str, str], provider: str, count: int, first_serial: int
) -> list[Referral]:
    """Enrol ``count`` citizens (made-up CPR numbers, born 1 January 1970, serials from
    ``first_serial``) and refer each to ``provider``; wait until the gateway has every referral."""
    made: list[Referral] = []
    async with httpx.AsyncClient(
        base_url=stack.url("employment"),
        headers={"authorization": f"Bearer {caseworker_token(env)}"},
        timeout=30,
    ) as employment:
        for serial in range(first_serial, first_serial + count):
            enrolled = await employment.post(
                "/v1/citizens", json={"cpr": f"010170-{serial:04d}", "target_group": "kontanthjaelp"}
            )
            assert enrolled.status_code in (200, 201), enrolled.text
            citizen_ref: str = enrolled.json()["citizen_ref"]
            response = await employment.post(
                "/v1/referrals",
                json={
                    "citizen_ref": citizen_ref,
                    "provider_id": provider,
                    "offer": {
                        "kind": "activation",
                        "title": "Benchmark offer",
                        "hours_per_week": 10,
                        "starts_on": "2026-12-01",
                    },
                    "citizen_display_name": "Benchmark citizen",
                    "jobcenter_contact": {"name": "Benchmark caseworker"},
                },
            )
            assert response.status_code == 201, response.text
            made.append(Referral(response.json()["referral_id"], citizen_ref))
    await add_provider_client(env, provider)
    gateway_db = await asyncpg.connect(env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        ids = [uuid.UUID(referral.referral_id) for referral in made]
        deadline = time.monotonic() + 60
        while await gateway_db.fetchval(
            "SELECT count(*) FROM referral_view WHERE referral_id = ANY($1::uuid[])", ids
        ) < len(ids):
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not see the referrals within 60 s")
            await asyncio.sleep(0.05)
    finally:
        await gateway_db.close()
    return made


def gateway_client(stack: LocalStack, token: str, connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.url("provider-gateway"),
        headers={"authorization": f"Bearer {token}"},
        timeout=120,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


# On the loaded machine a service sometimes closed a connection without answering (ReadError
# after some 1,500 task-list requests, the service alive and silent; not understood yet). Such a
# request is sent again, up to three times, and counted: safe for a GET, and for a POST with the
# same Idempotency-Key. The report prints the count.
RESENT_AFTER = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
resent: dict[str, int] = {}


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    for attempt in range(3):
        try:
            return await client.request(method, url, **kwargs)
        except RESENT_AFTER as error:
            resent[type(error).__name__] = resent.get(type(error).__name__, 0) + 1
            await asyncio.sleep(0.2 * (attempt + 1))
    return await client.request(method, url, **kwargs)


async def post_notice(gateway: NoticeSender, referral_id: str) -> str:
    """POST one absence notice; the submission id from the 202."""
    return await gateway.post_notice(referral_id)


class NoticeSender:
    """Absence notices to the gateway over plain HTTP/1.1 keep-alive connections, at most
    ``connections`` open. The load generator must not be what is measured: httpx took about two
    thirds of a core to send 150 notices a second (top, during the closed-loop flow), on a
    machine of two cores shared with the services; this takes a few per cent."""

    def __init__(self, url: str, token: str, connections: int) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._head = (
            f"host: {self._host}:{self._port}\r\nauthorization: Bearer {token}\r\n"
            "content-type: application/json\r\n"
        ).encode()
        self._body = json.dumps(ABSENCE_NOTICE).encode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._opening = asyncio.Semaphore(connections)

    async def __aenter__(self) -> NoticeSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def post_notice(self, referral_id: str) -> str:
        """POST one absence notice; the submission id from the 202. A connection the server
        closed without answering is counted and the notice sent again (same Idempotency-Key)."""
        request = (
            f"POST /v1/referrals/{referral_id}/absence-notices HTTP/1.1\r\n".encode()
            + self._head
            + f"idempotency-key: {uuid.uuid4().hex}\r\ncontent-length: {len(self._body)}\r\n\r\n".encode()
            + self._body
        )
        async with self._opening:
            for attempt in range(4):
                # A kept connection the server may have closed meanwhile (its keep-alive timeout);
                # after a failure, a new one.
                reader, writer = (
                    self._idle.pop()
                    if self._idle and attempt == 0
                    else await asyncio.open_connection(self._host, self._port)
                )
                try:
                    writer.write(request)
                    status, body = await _answer(reader)
                except (ConnectionError, asyncio.IncompleteReadError) as error:
                    writer.close()
                    if attempt == 3:
                        raise
                    resent[type(error).__name__] = resent.get(type(error).__name__, 0) + 1
                    continue
                self._idle.append((reader, writer))
                assert status == 202, body
                submission_id: str = json.loads(body)["submission_id"]
                return submission_id
        raise AssertionError("unreachable")


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 answer with a content-length (as the gateway's are)."""
    status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def notice_sender(stack: LocalStack, token: str, connections: int) -> NoticeSender:
    return NoticeSender(stack.url("provider-gateway"), token, connections)


def absence_notice(subject: str, provider_id: str) -> tuple[Envelope, AbsenceNoticeSubmitted]:
    """A valid absence notice about the citizen, with the envelope the gateway gives it."""
    notice = AbsenceNoticeSubmitted(
        submission_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        provider_id=provider_id,
        absent_from=date(2026, 11, 16),
        reason=AbsenceReason.ILLNESS,
        contact_attempts=[ContactAttempt(on=date(2026, 11, 17), channel=ContactChannel.PHONE)],
        comment="Not seen since Monday; phone unanswered.",
    )
    envelope = Envelope(
        source="/samspil/provider-gateway",
        type=notice.event_type,
        subject=subject,
        dataschema=notice.dataschema,
        correlationid=notice.submission_id,
    )
    return envelope, notice


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of the values, nearest rank; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
