"""Bounded retention, against the real database: rows past their limit go, in batches; younger
rows and anything not yet published stay."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pydantic import ValidationError

from provider_gateway.adapters.retention import purge_idempotency_keys
from provider_gateway.entrypoints import scheduler
from provider_gateway.settings import GatewaySettings
from samspil.runtime.db import create_pool, migrate
from samspil.runtime.kafka import ensure_topics
from samspil.runtime.metrics import render
from samspil.runtime.retention import Purged, RetentionPolicy, purge_messaging_tables
from schemas.topics import DAY_MS, EMPLOYMENT_COMMANDS, EMPLOYMENT_EVENTS, PROVIDER_REPORTS, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory
from tests.support import encoded_notice, produce, wait_for

DAY = timedelta(days=1)
POLICY = RetentionPolicy(inbox_margin=7 * DAY, replayed_dead_letters=7 * DAY, batch_size=1000)


@pytest.fixture
async def messaging_db(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    try:
        yield pool
    finally:
        await pool.close()


async def add_inbox(pool: asyncpg.Pool, topic: str | None, seen_days_ago: float, count: int = 1) -> None:
    await pool.executemany(
        "INSERT INTO inbox (consumer, event_id, event_type, topic, processed_at, last_seen_at)"
        " VALUES ('c', $1, 't', $2, now() - $3::interval, now() - $3::interval)",
        [(uuid.uuid4(), topic, timedelta(days=seen_days_ago)) for _ in range(count)],
    )


async def add_outbox(
    pool: asyncpg.Pool, topic: str, published_days_ago: float | None, count: int = 1
) -> None:
    await pool.executemany(
        "INSERT INTO outbox (event_id, event_type, topic, header_names, header_values, payload,"
        " created_at, published_at) VALUES ($1, 't', $2, '{}', '{}', '\\x00',"
        " now() - interval '400 days', now() - $3::interval)",
        [
            (
                str(uuid.uuid4()),
                topic,
                None if published_days_ago is None else timedelta(days=published_days_ago),
            )
            for _ in range(count)
        ],
    )


async def add_dead_letter(
    pool: asyncpg.Pool, topic: str, created_days_ago: float, replayed_days_ago: float | None = None
) -> None:
    await pool.execute(
        "INSERT INTO dead_letter (consumer, topic, kafka_partition, kafka_offset, header_names,"
        " header_values, payload, reason, error, attempts, created_at, replayed_at)"
        " VALUES ('c', $1, 0, 0, '{}', '{}', '\\x00', 'rejected', 'e', 1, now() - $2::interval,"
        " now() - $3::interval)",
        topic,
        timedelta(days=created_days_ago),
        None if replayed_days_ago is None else timedelta(days=replayed_days_ago),
    )


async def count(pool: asyncpg.Pool, table: str, where: str = "true") -> int:
    found: int = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE {where}")
    return found


async def test_an_inbox_row_stays_while_the_broker_could_deliver_its_event_again(
    messaging_db: asyncpg.Pool,
) -> None:
    # Commands are kept 7 days, events 30; the margin is 7 days past that.
    await add_inbox(messaging_db, EMPLOYMENT_COMMANDS.name, 13.9)  # stays
    await add_inbox(messaging_db, EMPLOYMENT_COMMANDS.name, 14.1)  # goes
    await add_inbox(messaging_db, EMPLOYMENT_EVENTS.name, 20)  # stays
    await add_inbox(messaging_db, EMPLOYMENT_EVENTS.name, 36.9)  # stays
    await add_inbox(messaging_db, EMPLOYMENT_EVENTS.name, 37.1)  # goes
    await add_inbox(messaging_db, None, 36.9)  # unknown topic: the longest retention, stays

    purged = await purge_messaging_tables(messaging_db, POLICY)

    assert purged["inbox"].rows == 2
    remaining = await messaging_db.fetch(
        "SELECT topic, extract(day FROM now() - last_seen_at)::int AS age FROM inbox ORDER BY age"
    )
    assert [(row["topic"], row["age"]) for row in remaining] == [
        (EMPLOYMENT_COMMANDS.name, 13),
        (EMPLOYMENT_EVENTS.name, 20),
        (EMPLOYMENT_EVENTS.name, 36),
        (None, 36),
    ]


async def test_published_outbox_rows_go_after_their_topics_retention_and_unpublished_ones_never(
    messaging_db: asyncpg.Pool,
) -> None:
    await add_outbox(messaging_db, EMPLOYMENT_COMMANDS.name, 6.9)  # stays
    await add_outbox(messaging_db, EMPLOYMENT_COMMANDS.name, 7.1)  # goes
    await add_outbox(messaging_db, EMPLOYMENT_EVENTS.name, 29.9)  # stays
    await add_outbox(messaging_db, EMPLOYMENT_EVENTS.name, 30.1)  # goes
    await add_outbox(messaging_db, EMPLOYMENT_EVENTS.name, None)  # not published, created 400 days ago
    await messaging_db.execute(
        "UPDATE outbox SET parked_at = now() - interval '300 days' WHERE published_at IS NULL"
    )

    purged = await purge_messaging_tables(messaging_db, POLICY)

    assert purged["outbox"].rows == 2
    assert await count(messaging_db, "outbox", "published_at IS NULL AND parked_at IS NOT NULL") == 1
    assert await count(messaging_db, "outbox", "published_at > now() - interval '30 days'") == 2


async def test_dead_letters_go_after_their_source_topics_retention_and_replayed_ones_sooner(
    messaging_db: asyncpg.Pool,
) -> None:
    replayed = 3.0
    policy = RetentionPolicy(
        inbox_margin=7 * DAY, replayed_dead_letters=timedelta(days=replayed), batch_size=1000
    )
    await add_dead_letter(messaging_db, EMPLOYMENT_COMMANDS.name, 6.9)  # stays
    await add_dead_letter(messaging_db, EMPLOYMENT_COMMANDS.name, 7.1)  # goes: past the commands' 7 days
    await add_dead_letter(messaging_db, EMPLOYMENT_EVENTS.name, 20)  # stays
    await add_dead_letter(messaging_db, EMPLOYMENT_EVENTS.name, 20, replayed_days_ago=2.9)  # stays
    await add_dead_letter(messaging_db, EMPLOYMENT_EVENTS.name, 20, replayed_days_ago=3.1)  # goes: replayed

    purged = await purge_messaging_tables(messaging_db, policy)

    assert purged["dead_letter"].rows == 2
    remaining = await messaging_db.fetch(
        "SELECT topic, replayed_at IS NOT NULL AS replayed FROM dead_letter ORDER BY id"
    )
    assert [(row["topic"], row["replayed"]) for row in remaining] == [
        (EMPLOYMENT_COMMANDS.name, False),
        (EMPLOYMENT_EVENTS.name, False),
        (EMPLOYMENT_EVENTS.name, True),
    ]


async def test_a_backlog_larger_than_a_batch_is_purged_over_several_statements(
    messaging_db: asyncpg.Pool,
) -> None:
    await add_inbox(messaging_db, EMPLOYMENT_COMMANDS.name, 30, count=10)
    await add_inbox(messaging_db, EMPLOYMENT_COMMANDS.name, 1, count=2)
    await add_outbox(messaging_db, EMPLOYMENT_COMMANDS.name, 30, count=7)
    await add_outbox(messaging_db, EMPLOYMENT_COMMANDS.name, None, count=4)
    for _ in range(6):
        await add_dead_letter(messaging_db, EMPLOYMENT_COMMANDS.name, 30)
    await messaging_db.execute(
        "INSERT INTO idempotent_request (caller, key, request_hash, created_at)"
        " SELECT 'caseworker', 'k' || n, 'h',"
        " now() - make_interval(days => CASE WHEN n < 5 THEN 8 ELSE 6 END)"
        " FROM generate_series(1, 5) AS n"
    )

    purged = await purge_messaging_tables(
        messaging_db, RetentionPolicy(inbox_margin=7 * DAY, replayed_dead_letters=7 * DAY, batch_size=3)
    )

    assert purged == {
        "inbox": Purged(rows=10, statements=4),
        "outbox": Purged(rows=7, statements=3),
        "dead_letter": Purged(rows=6, statements=3),
        # Idempotency-Keys are kept a week by default; the one younger stays.
        "idempotent_request": Purged(rows=4, statements=2),
    }
    assert await messaging_db.fetchval("SELECT key FROM idempotent_request") == "k5"
    assert await count(messaging_db, "inbox") == 2
    assert await count(messaging_db, "outbox") == 4
    assert await count(messaging_db, "dead_letter") == 0


async def test_idempotency_keys_go_after_the_set_time_in_batches(infra: Infra) -> None:
    pool = await create_pool(infra.create_database("provider_gateway"))
    try:
        await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
        await pool.executemany(
            "INSERT INTO idempotency_key (provider_id, key, request_hash, created_at)"
            " VALUES ('p', $1, 'h', now() - $2::interval)",
            [(f"old-{n}", timedelta(hours=25)) for n in range(5)] + [("young", timedelta(hours=23))],
        )
        purged = await purge_idempotency_keys(pool, timedelta(hours=24), batch_size=2)
        assert purged == Purged(rows=5, statements=3)
        assert [row["key"] for row in await pool.fetch("SELECT key FROM idempotency_key")] == ["young"]
    finally:
        await pool.close()


def test_the_gateway_refuses_to_keep_idempotency_keys_less_than_a_day() -> None:
    settings: dict[str, Any] = {
        "database_url": "postgresql://unused@localhost/x",
        "token_secret": "x" * 32,
        "dead_letter_key": "x" * 32,
    }
    assert GatewaySettings(**settings).idempotency_key_retention_hours == 7 * 24
    assert (
        GatewaySettings(**settings, idempotency_key_retention_hours=24).idempotency_key_retention_hours == 24
    )
    with pytest.raises(ValidationError, match="idempotency_key_retention_hours"):
        GatewaySettings(**settings, idempotency_key_retention_hours=23.5)


async def test_metrics_show_the_size_of_the_operational_tables(
    consumer_runtime: RuntimeFactory,
) -> None:
    async with consumer_runtime() as runtime:
        response = await render(runtime.metrics, runtime)
    text = bytes(response.body).decode()
    service = runtime.name
    for table in ("inbox", "outbox", "dead_letter"):
        rows = [
            line
            for line in text.splitlines()
            if line.startswith(f'samspil_table_bytes{{service="{service}",table="{table}"}}')
        ]
        assert len(rows) == 1 and float(rows[0].split()[-1]) > 0
        assert f'samspil_table_rows_estimate{{service="{service}",table="{table}"}}' in text
    assert 'table="idempotency_key"' not in text  # only the tables this database has


async def test_the_gateways_scheduler_purges_old_idempotency_keys_and_messaging_rows(infra: Infra) -> None:
    url = infra.create_database("provider_gateway")
    pool = await create_pool(url)
    try:
        await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
        await pool.execute(
            "INSERT INTO idempotency_key (provider_id, key, request_hash, created_at) VALUES"
            " ('p', 'old', 'h', now() - interval '8 days'), ('p', 'young', 'h', now() - interval '6 days')"
        )
        await add_inbox(pool, EMPLOYMENT_EVENTS.name, 40)
        settings = GatewaySettings(
            database_url=url, token_secret="x" * 32, dead_letter_key="x" * 32, retention_scan_seconds=0.1
        )
        task = asyncio.create_task(scheduler.retention_worker(settings)(pool))
        try:
            await wait_for(lambda: _gone(pool))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert [row["key"] for row in await pool.fetch("SELECT key FROM idempotency_key")] == ["young"]
        assert await count(pool, "inbox") == 0
    finally:
        await pool.close()


async def _gone(pool: asyncpg.Pool) -> bool:
    return await count(pool, "idempotency_key", "key = 'old'") == 0 and await count(pool, "inbox") == 0


async def test_a_topic_created_with_a_longer_retention_is_brought_in_line_with_the_catalogue(
    infra: Infra,
) -> None:
    old = dead_letter_topic(f"test-{uuid.uuid4().hex[:8]}")
    await ensure_topics(infra.bootstrap_servers, [dataclasses.replace(old, retention_ms=90 * DAY_MS)])
    with structlog.testing.capture_logs() as logs:
        assert await ensure_topics(infra.bootstrap_servers, [old]) == []
    retention = await topic_retention_ms(infra, old.name)
    if retention == str(old.retention_ms):
        assert any(entry["event"] == "topic retention set from the catalogue" for entry in logs)
    else:
        # The embedded broker (Tansu) cannot alter a topic's configs: the operator is told.
        assert infra.broker is not None
        warning = next(entry for entry in logs if entry.get("topic") == old.name)
        assert warning["log_level"] == "warning" and warning["retention_ms"] == str(old.retention_ms)


async def topic_retention_ms(infra: Infra, name: str) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        [(_, _, _, _, entries)] = response.resources
        return next((entry[1] for entry in entries if entry[0] == "retention.ms"), None)
    finally:
        await admin.close()


async def test_an_event_delivered_again_keeps_its_inbox_row_for_another_full_retention(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, record = encoded_notice()
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, record)
        await wait_for(lambda: count(runtime.pool, "effect", f"event_id = '{envelope.id}'"))
        # Seen long ago: past its topic's retention and the margin, so it would be purged...
        await runtime.pool.execute(
            "UPDATE inbox SET last_seen_at = now() - interval '40 days' WHERE event_id = $1", envelope.id
        )
        # ...but the broker delivers it again (and a marker behind it on the same key).
        marker, marker_record = encoded_notice(subject=envelope.subject)
        await produce(infra.bootstrap_servers, record, marker_record)
        await wait_for(lambda: count(runtime.pool, "effect", f"event_id = '{marker.id}'"))
        await purge_messaging_tables(runtime.pool, POLICY)
        row = await runtime.pool.fetchrow(
            "SELECT topic, last_seen_at > now() - interval '1 hour' AS recent FROM inbox WHERE event_id = $1",
            envelope.id,
        )
        assert await count(runtime.pool, "effect", f"event_id = '{envelope.id}'") == 1
    assert row is not None and row["recent"] and row["topic"] == PROVIDER_REPORTS.name
