"""A statement the services run again and again is prepared once per connection (asyncpg's
statement cache), and after five runs PostgreSQL may keep one generic plan for it until the table's
statistics next change. On a new database that plan is made while the table is empty and never
analysed, where reading the whole table looks cheapest; autovacuum analyses it only after its next
nap (a minute by default), while the table already grows by hundreds of rows a second. The hot
statements must find their rows through an index even then (a sequential scan was measured at
1.3 ms a call in the benchmark's first minute, 106 ms at 50,000 rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import asyncpg

from benchmarks import size
from employment.adapters import onboarding
from provider_gateway.adapters import portal_people, webhooks
from provider_gateway.adapters.repository import insert_feed_entry
from provider_gateway.service_layer.handlers import record_department_answers
from samspil.runtime.codec import Record
from samspil.runtime.db import Connection
from samspil.runtime.outbox import OutboxRelay, add_record
from schemas.decisions import ReportReceived
from schemas.envelope import Envelope
from tests.integration.test_query_plans import acknowledgement_of
from tests.integration.test_relay_wakeups import record


class Accepting:
    """The broker's part does not matter here: every record is taken."""

    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        return [None] * len(records)


async def _scans(conn: Connection, table: str) -> tuple[int, int]:
    """This transaction's sequential and index scans of ``table`` so far."""
    row = await conn.fetchrow(
        "SELECT seq_scan, coalesce(idx_scan, 0) AS idx_scan FROM pg_stat_xact_user_tables WHERE relname = $1",
        table,
    )
    assert row is not None
    return row["seq_scan"], row["idx_scan"]


def _through_an_index(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Between the two counts of `_scans`: no sequential scan of the table, an index scan at least."""
    return after[0] == before[0] and after[1] > before[1]


async def test_the_relay_marks_a_batch_published_through_the_index_after_its_first_batches_on_an_empty_outbox(
    outbox_db: asyncpg.Pool,
) -> None:
    relay = OutboxRelay(outbox_db, Accepting())
    async with outbox_db.acquire() as conn:
        for n in range(8):  # a few rows a batch, on a table still nearly empty: the plans are made
            async with conn.transaction():
                for k in range(3):
                    await add_record(conn, record(n * 3 + k), f"warm-{n}-{k}", "type")
            assert await relay.publish_batch(conn) == (3, 0)
        # The outbox as it is a minute later: many rows published, a batch pending; not analysed.
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, topic, record_key, payload, header_names,"
            " header_values, published_at) SELECT gen_random_uuid(), 'type', 'topic', 'key',"
            " '\\x7b7d'::bytea, '{}', '{}', now() FROM generate_series(1, 20000)"
        )
        for n in range(50):
            async with conn.transaction():
                await add_record(conn, record(100 + n), f"pending-{n}", "type")
        async with conn.transaction():
            before = await _scans(conn, "outbox")
            assert await relay.publish_batch(conn) == (50, 0)
            after = await _scans(conn, "outbox")
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    assert _through_an_index(before, after), "the relay read the whole outbox to mark a batch published"


async def test_the_gateway_records_a_run_of_acknowledgements_through_the_index_after_runs_on_empty_tables(
    gateway_pool: asyncpg.Pool,
) -> None:
    async with gateway_pool.acquire() as conn:
        await size.seed(conn, size.GATEWAY_SEED, 0, 64)
        for n in range(8):  # the first runs, on tables still nearly empty: the plans are made
            async with conn.transaction():
                await record_department_answers(conn, _acknowledgements(2 * n, 2 * n + 1))
        # The tables as they are a minute later, not analysed yet.
        await size.seed(conn, size.GATEWAY_SEED, 64, 20_000)
        async with conn.transaction():
            before = await _scans(conn, "submission")
            await record_department_answers(conn, _acknowledgements(20, 21))
            after = await _scans(conn, "submission")
        acted_on = await conn.fetchval(
            "SELECT count(*) FROM submission WHERE submission_id = ANY($1::uuid[]) AND status = 'acted-on'",
            [size.seeded_uuid("submission", size.provider_row(k)) for k in (20, 21)],
        )
    assert acted_on == 2
    assert _through_an_index(before, after), (
        "the run's submissions were looked for by reading the whole table"
    )


def _acknowledgements(*ks: int) -> list[tuple[Envelope, ReportReceived]]:
    """The employment service's acknowledgements of the benchmark provider's ``k``-th seeded
    submissions."""
    return [
        acknowledgement_of(
            size.provider_row(k),
            size.seeded_uuid("submission", size.provider_row(k)),
            size.seeded_uuid("referral", size.provider_row(k)),
        )
        for k in ks
    ]


async def test_an_import_finds_enrolled_citizens_through_the_indexes_after_its_first_chunks_on_an_empty_table(
    employment_db: asyncpg.Pool,
) -> None:
    enrolled_before = range(100, 132)
    async with employment_db.acquire() as conn:
        async with conn.transaction():  # a few citizens enrolled before the import (through the API)
            await _import_chunk(conn, enrolled_before)
        for n in range(8):  # the import's first chunks, on a table still nearly empty: the plans are made
            chunk = [*range(4 * n, 4 * n + 4), *enrolled_before[4 * n : 4 * n + 4]]
            async with conn.transaction():
                assert await _import_chunk(conn, chunk) == 4
        # The citizens enrolled a minute later, not analysed yet.
        await size.seed(conn, size.EMPLOYMENT_SEED[:1], 0, 20_000)
        async with conn.transaction():
            before = await _scans(conn, "citizen")
            enrolled_again = await _import_chunk(conn, range(4))
            after = await _scans(conn, "citizen")
        tags = await conn.fetchval("SELECT profile_tags FROM citizen WHERE cpr = $1", _cpr(0))
    assert enrolled_again == 4
    assert tags == ["again"]
    assert _through_an_index(before, after), (
        "the import read the whole citizen table to find or update a chunk"
    )


def _imported_ref(n: int) -> str:
    return f"k1:imported-{n}"


def _cpr(n: int) -> str:
    return f"31129{n:05d}"


async def _import_chunk(conn: Connection, numbers: Sequence[int]) -> int:
    """What bulk onboarding does to a chunk's citizens: those enrolled already are found by CPR
    number (locked) and their profile replaced, the others enrolled. How many were enrolled already."""
    cprs = {_cpr(n): n for n in numbers}
    known = await onboarding.lock_enrolled(conn, list(cprs))
    new = [
        onboarding.NewCitizen(_imported_ref(n), cpr, "kontanthjaelp", [], date(2026, 12, 1))
        for cpr, n in cprs.items()
        if cpr not in known
    ]
    await onboarding.insert_citizens(conn, new, "import")
    await onboarding.update_profiles(conn, [(ref, "kontanthjaelp", ["again"]) for ref in known.values()])
    return len(known)


# Portal people and their sessions, rows first .. end - 1: person i logs in with session i.
_PORTAL_PEOPLE = [
    """INSERT INTO portal_person (person_id, provider_id, email, display_name, password_hash)
    SELECT md5('person-' || i)::uuid, 'p-' || (i % 200), 'person-' || i || '@example.org', 'Person ' || i, 'x'
    FROM generate_series($1::int, $2::int - 1) AS i""",
    """INSERT INTO portal_session (session_hash, person_id, expires_at)
    SELECT 'session-' || i, md5('person-' || i)::uuid, now() + interval '1 hour'
    FROM generate_series($1::int, $2::int - 1) AS i""",
]


async def test_a_portal_page_finds_its_session_s_person_through_the_index_after_pages_on_empty_tables(
    gateway_pool: asyncpg.Pool,
) -> None:
    async with gateway_pool.acquire() as conn:
        await size.seed(conn, _PORTAL_PEOPLE, 0, 8)
        for n in range(8):  # the portal's first pages, on tables still nearly empty: the plans are made
            assert await portal_people.use_session(conn, f"session-{n}", timedelta(minutes=30)) is not None
        # The people and sessions a while later, not analysed yet.
        await size.seed(conn, _PORTAL_PEOPLE, 8, 20_000)
        async with conn.transaction():
            before = await _scans(conn, "portal_person")
            person = await portal_people.use_session(conn, "session-9000", timedelta(minutes=30))
            after = await _scans(conn, "portal_person")
    assert person is not None and person["email"] == "person-9000@example.org"
    assert _through_an_index(before, after), "a portal page read every portal person to find its session's"


async def test_feed_entries_get_their_positions_through_the_index_after_the_first_commits_on_an_empty_feed(
    gateway_pool: asyncpg.Pool,
) -> None:
    async with gateway_pool.acquire() as conn:
        for n in range(8):  # the first entries, on a feed still nearly empty: the trigger's plans are made
            async with conn.transaction():
                await insert_feed_entry(conn, "p-1", "referral-requested", None, None, {"n": n})
        # The feed a minute later, every entry numbered; not analysed yet.
        await size.seed(conn, size.GATEWAY_SEED, 0, 20_000)
        await conn.execute("UPDATE provider_feed SET position = seq WHERE position IS NULL")
        async with conn.transaction():
            for n in (8, 9, 10):
                await insert_feed_entry(conn, "p-1", "referral-requested", None, None, {"n": n})
            before = await _scans(conn, "provider_feed")
            await conn.execute("SET CONSTRAINTS provider_feed_position_at_commit IMMEDIATE")  # as at commit
            after = await _scans(conn, "provider_feed")
        numbered = await conn.fetch(
            "SELECT data->>'n' AS n FROM provider_feed WHERE provider_id = 'p-1' ORDER BY position"
        )
    assert [row["n"] for row in numbered] == [str(n) for n in range(11)]
    assert _through_an_index(before, after), "numbering a transaction's feed entries read the whole feed"


# Deliveries to one endpoint, rows first .. end - 1, each for a referral of its own; due now,
# or (with $3) an hour from now, as deliveries waiting to be tried again are.
_DELIVERIES = [
    """INSERT INTO webhook_message (message_id, provider_id, kind, referral_id, data, at)
    SELECT md5('message-' || i)::uuid, 'p-1', 'referral-requested', md5('referral-' || i)::uuid, '{}', now()
    FROM generate_series($1::int, $2::int - 1) AS i""",
    """INSERT INTO webhook_delivery (delivery_id, endpoint_id, message_id, ordering_key, next_attempt_at)
    SELECT md5('delivery-' || i)::uuid, md5('endpoint')::uuid, md5('message-' || i)::uuid,
           md5('referral-' || i), now() + CASE WHEN $3::bool THEN interval '1 hour' ELSE interval '0' END
    FROM generate_series($1::int, $2::int - 1) AS i""",
]


async def _add_deliveries(conn: Connection, first: int, end: int, later: bool = False) -> None:
    async with conn.transaction():
        await conn.execute(_DELIVERIES[0], first, end)
        await conn.execute(_DELIVERIES[1], first, end, later)


async def test_the_webhook_worker_claims_due_deliveries_without_reading_all_waiting_after_empty_tables(
    gateway_pool: asyncpg.Pool,
) -> None:
    async with gateway_pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO provider_client (client_id, provider_id, secret_hash) VALUES ('c-1', 'p-1', 'x')"
        )
        await conn.execute(
            "INSERT INTO webhook_endpoint (endpoint_id, provider_id, url, event_kinds, secret_sealed)"
            " VALUES (md5('endpoint')::uuid, 'p-1', 'https://hooks.example/', ARRAY['referral-requested'],"
            " '\\x00')"
        )
        for n in range(8):  # the worker's first rounds, on tables still nearly empty: the plans are made
            await _add_deliveries(conn, 3 * n, 3 * n + 3)
            assert len(await webhooks.claim_due(conn, 50, timedelta(minutes=1))) == 3
        # A while later: many deliveries wait to be tried again, a few are due; not analysed yet.
        await _add_deliveries(conn, 100, 20_000, later=True)
        await _add_deliveries(conn, 20_000, 20_005)
        async with conn.transaction():
            before = await _rows_read(conn, "webhook_delivery")
            claimed = await webhooks.claim_due(conn, 50, timedelta(minutes=1))
            after = await _rows_read(conn, "webhook_delivery")
    assert len(claimed) == 5
    assert after - before < 100, "the claim read every delivery waiting to be tried again"


async def _rows_read(conn: Connection, table: str) -> int:
    """The rows of ``table`` this transaction has read so far, by sequential and index scans."""
    read: int = await conn.fetchval(
        "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables WHERE relname = $1",
        table,
    )
    return read
