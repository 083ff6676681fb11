"""What one report costs the gateway's database, counted (never timed), on the real PostgreSQL
through the gateway's own app: a report to a referral the gateway has seen a report for before
is one statement, which also holds every check it must not skip: a client disabled a moment ago
is refused on its very next request, from any replica, whatever the token still says."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from provider_gateway.adapters import repository
from provider_gateway.adapters.report_connections import ReportConnections
from provider_gateway.admin import add_provider, disable_client, rotate_secret
from provider_gateway.bootstrap import build_app
from provider_gateway.domain.credentials import TokenClaims, issue_token
from provider_gateway.service_layer.reports import new_submission_id, report_envelope
from provider_gateway.settings import GatewaySettings
from samspil.runtime.db import migrate
from samspil.runtime.outbox import NOTIFY_CHANNEL, add_event, outbox_columns
from schemas.provider_reports import AbsenceNoticeSubmitted
from tests.infra import Infra

TOKEN_SECRET = "t" * 48
CITIZEN = "k1:" + "ab" * 32
NOTICE = {"absent_from": "2026-11-16", "reason": "illness", "contact_attempts": 1}


class StatementCount:
    """Every statement the pool's connections send, the pool's own reset on release included."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, record: Any) -> None:
        self.statements.append(record.query)


@pytest.fixture
async def counted() -> StatementCount:
    return StatementCount()


@pytest.fixture
def gateway_url(infra: Infra) -> str:
    return infra.create_database("gw")


@pytest.fixture
async def gateway_pool(gateway_url: str, counted: StatementCount) -> AsyncIterator[asyncpg.Pool]:
    async def count_on(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(counted)

    url = gateway_url
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4, init=count_on)
    assert pool is not None
    await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
    try:
        yield pool
    finally:
        await pool.close()


class Gateway:
    def __init__(self, pool: asyncpg.Pool, url: str, provider_id: str) -> None:
        self.url = url
        settings = GatewaySettings(
            database_url="postgresql://unused/unused",
            token_secret=TOKEN_SECRET,
            dead_letter_key="d" * 32,
        )
        self.app = build_app(settings)
        self.app.state.runtime.pool = pool  # the lifespan (broker, relay) is not needed here
        self.pool = pool
        self.provider_id = provider_id
        self.referral_id = uuid.uuid4()

    async def start(self, counted: StatementCount) -> None:
        async def count_on(conn: asyncpg.Connection) -> None:
            conn.add_query_logger(counted)

        # As the runtime runs it: a worker that keeps the report connections open.
        connections = ReportConnections(self.url, 2, init=count_on)
        self.app.state.report_connections = connections
        self.keeper = asyncio.create_task(connections.keep_open(self.pool))
        await connections.opened.wait()
        async with self.pool.acquire() as conn:
            self.client_id, _ = await add_provider(conn, self.provider_id)
            await conn.execute(
                "INSERT INTO referral_view (referral_id, provider_id, citizen_ref, citizen_display_name,"
                " offer_title, hours_per_week, starts_on, status)"
                " VALUES ($1, $2, $3, 'Borger', 'Tilbud', 10, '2026-12-01', 'requested')",
                self.referral_id,
                self.provider_id,
                CITIZEN,
            )
        token = issue_token(
            TokenClaims(self.client_id, self.provider_id, int(time.time()) + 900), TOKEN_SECRET
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://gateway",
            headers={"authorization": f"Bearer {token}"},
        )

    async def notice(self, key: str | None = None, body: dict[str, Any] = NOTICE) -> httpx.Response:
        return await self.http.post(
            f"/v1/referrals/{self.referral_id}/absence-notices",
            json=body,
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )

    async def count(self, table: str) -> int:
        count: int = await self.pool.fetchval(f"SELECT count(*) FROM {table}")
        return count


@pytest.fixture
async def gateway(
    gateway_pool: asyncpg.Pool, gateway_url: str, counted: StatementCount
) -> AsyncIterator[Gateway]:
    gateway = Gateway(gateway_pool, gateway_url, f"aktivcenter-{uuid.uuid4().hex[:6]}")
    await gateway.start(counted)
    try:
        yield gateway
    finally:
        await gateway.http.aclose()
        gateway.keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gateway.keeper


async def test_an_absence_notice_to_a_referral_seen_before_costs_one_statement(
    gateway: Gateway, counted: StatementCount
) -> None:
    assert (await gateway.notice()).status_code == 202  # the first learns the referral's citizen
    assert (await gateway.notice()).status_code == 202  # asyncpg learns the column types once
    woken: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(gateway.url)
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: woken.put_nowait(args[2]))
    counted.statements.clear()
    answer = await gateway.notice()
    assert answer.status_code == 202, answer.text
    assert await asyncio.wait_for(woken.get(), 10) == NOTIFY_CHANNEL  # the relay is woken
    await listener.close()
    # One statement, one round trip: not even the pool's reset of the connection after it.
    assert [statement.split()[0] for statement in counted.statements] == ["WITH"]
    assert await gateway.count("submission") == 3
    assert await gateway.count("outbox") == 3
    assert await gateway.count("audit.audit_log") == 3
    assert await gateway.count("idempotency_key") == 3


async def test_the_short_way_keeps_the_idempotency_rules(gateway: Gateway) -> None:
    await gateway.notice()
    first = await gateway.notice("same-key")
    again = await gateway.notice("same-key")
    other = await gateway.notice("same-key", {**NOTICE, "absent_from": "2026-11-17"})
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 422)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await gateway.count("submission") == 2
    statuses = await gateway.pool.fetch("SELECT status FROM audit.audit_log ORDER BY id")
    assert [row["status"] for row in statuses] == [202, 202, 202, 422]


async def test_a_disabled_clients_very_next_report_is_refused_though_its_token_is_still_valid(
    gateway: Gateway, gateway_pool: asyncpg.Pool
) -> None:
    assert (await gateway.notice()).status_code == 202
    assert (await gateway.notice()).status_code == 202  # the short way, with the client active
    async with gateway_pool.acquire() as conn:
        assert await disable_client(conn, gateway.client_id)
    refused = await gateway.notice()
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert await gateway.count("submission") == 2
    assert await gateway.count("outbox") == 2
    last = await gateway_pool.fetchrow("SELECT status, outcome FROM audit.audit_log ORDER BY id DESC")
    assert last is not None and (last["status"], last["outcome"]) == (401, "denied")


async def test_a_kept_token_loses_access_at_once_when_its_client_is_disabled_or_its_secret_rotated(
    gateway: Gateway, gateway_pool: asyncpg.Pool
) -> None:
    # The gateway keeps the tokens it verified (`auth.VerifiedTokens`), never whether their
    # client may still use them.
    assert (await gateway.notice()).status_code == 202
    assert (await gateway.notice()).status_code == 202  # the short way, with the token kept
    assert len(gateway.app.state.verified_tokens) == 1
    async with gateway_pool.acquire() as conn:
        assert await rotate_secret(conn, gateway.client_id) is not None
    revoked = await gateway.notice()
    assert (
        revoked.status_code == 401 and revoked.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    )
    new_generation = issue_token(
        TokenClaims(gateway.client_id, gateway.provider_id, int(time.time()) + 900, generation=1),
        TOKEN_SECRET,
    )
    gateway.http.headers["authorization"] = f"Bearer {new_generation}"
    assert (await gateway.notice()).status_code == 202
    assert (await gateway.notice()).status_code == 202  # kept too
    async with gateway_pool.acquire() as conn:
        assert await disable_client(conn, gateway.client_id)
    assert (await gateway.notice()).status_code == 401
    assert await gateway.count("submission") == 4
    statuses = await gateway_pool.fetch("SELECT status FROM audit.audit_log ORDER BY chain_seq")
    assert [row["status"] for row in statuses] == [202, 202, 401, 202, 202, 401]


async def test_a_kept_token_loses_access_at_once_on_every_route_that_takes_one(
    gateway: Gateway, gateway_pool: asyncpg.Pool
) -> None:
    """Not only the report path: each route that accepts a provider token asks the database
    whether its client may still use it, whatever the gateway keeps of the token."""
    assert (await gateway.notice()).status_code == 202
    submission_id = (await gateway.notice()).json()["submission_id"]
    reads = (
        "/v1/referrals",
        f"/v1/referrals/{gateway.referral_id}",
        f"/v1/submissions/{submission_id}",
        "/v1/feed",
        "/v1/webhooks",
    )
    for path in reads:
        assert (await gateway.http.get(path)).status_code == 200, path
    assert len(gateway.app.state.verified_tokens) == 1
    async with gateway_pool.acquire() as conn:
        assert await disable_client(conn, gateway.client_id)
    for path in reads:
        refused = await gateway.http.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    step = await gateway.http.post(
        f"/v1/referrals/{gateway.referral_id}/accept",
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert step.status_code == 401


async def test_a_report_to_a_referral_closed_since_is_refused_the_long_way(gateway: Gateway) -> None:
    assert (await gateway.notice()).status_code == 202
    await gateway.pool.execute(
        "UPDATE referral_view SET status = 'cancelled' WHERE referral_id = $1", gateway.referral_id
    )
    refused = await gateway.notice()
    assert refused.status_code == 409 and refused.json()["current_status"] == "cancelled"
    assert await gateway.count("submission") == 1


async def test_the_short_ways_outbox_row_is_the_one_add_event_writes(gateway: Gateway) -> None:
    notice = AbsenceNoticeSubmitted(
        submission_id=new_submission_id(),
        referral_id=gateway.referral_id,
        provider_id=gateway.provider_id,
        absent_from=date(2026, 11, 16),
    )
    envelope = report_envelope(notice, CITIZEN)
    async with gateway.pool.acquire() as conn, conn.transaction():
        await add_event(conn, envelope, notice)
    written = await repository.record_report_at_once(
        gateway.pool,
        repository.ReportAtOnce(
            client_id=gateway.client_id,
            provider_id=gateway.provider_id,
            token_generation=0,
            referral_id=gateway.referral_id,
            citizen_ref=CITIZEN,
            closed_statuses=[],
            key="k",
            request_hash="h",
            status_code=202,
            response="{}",
            submission_id=notice.submission_id,
            kind="absence-notice",
            outbox_row=outbox_columns(envelope, notice),
            audit_client_id=gateway.client_id,
            audit_method="POST",
            audit_path="/v1/test",
        ),
    )
    assert written
    rows = await gateway.pool.fetch("SELECT * FROM outbox ORDER BY seq")
    by_add_event, at_once = ({k: v for k, v in row.items() if k not in ("seq", "created_at")} for row in rows)
    assert at_once == by_add_event


async def test_a_report_whose_audit_row_cannot_be_written_the_short_way_gets_503_and_changes_nothing(
    gateway: Gateway,
) -> None:
    assert (await gateway.notice()).status_code == 202
    await gateway.pool.execute("ALTER TABLE audit.audit_log RENAME TO audit_log_away")
    try:
        refused = await gateway.notice()
    finally:
        await gateway.pool.execute("ALTER TABLE audit.audit_log_away RENAME TO audit_log")
    assert refused.status_code == 503 and refused.json()["type"].endswith("audit-unavailable")
    assert await gateway.count("submission") == 1
    assert await gateway.count("outbox") == 1
    assert (await gateway.notice()).status_code == 202


async def test_a_disabled_clients_report_with_a_bad_body_is_refused_401_not_422(
    gateway: Gateway, gateway_pool: asyncpg.Pool
) -> None:
    async with gateway_pool.acquire() as conn:
        assert await disable_client(conn, gateway.client_id)
    refused = await gateway.notice(body={"absent_from": "not a date"})
    assert refused.status_code == 401, refused.text
    assert "absent_from" not in refused.text
    last = await gateway_pool.fetchrow("SELECT status, outcome FROM audit.audit_log ORDER BY id DESC")
    assert last is not None and (last["status"], last["outcome"]) == (401, "denied")


async def test_a_report_whose_answer_was_lost_with_the_connection_is_not_answered_as_a_replay(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement committed, then the connection went before its answer came: the caller is
    told to send again (503), and is not given its own first attempt as a replay with a second
    audit row."""
    assert (await gateway.notice()).status_code == 202  # the citizen is known: the short way next
    written = repository.record_report_at_once

    async def committed_then_lost(conn: Any, report: Any) -> bool:
        await written(conn, report)
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(repository, "record_report_at_once", committed_then_lost)
    key = uuid.uuid4().hex
    lost = await gateway.notice(key)
    assert lost.status_code == 503 and lost.headers["retry-after"] == "1", lost.text
    assert "idempotent-replayed" not in lost.headers
    monkeypatch.setattr(repository, "record_report_at_once", written)
    again = await gateway.notice(key)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert await gateway.count("submission") == 2
