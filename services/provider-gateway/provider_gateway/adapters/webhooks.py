"""SQL for webhook endpoints and their deliveries (tables in migration 009)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, TypeAlias

import asyncpg

from samspil.runtime.db import Connection

ENDPOINT_COLUMNS = (
    "endpoint_id, provider_id, url, event_kinds, description, created_at, updated_at, disabled_at,"
    " disabled_by, disabled_reason"
)
DELIVERY_COLUMNS = (
    "d.seq, d.delivery_id, d.endpoint_id, d.message_id, d.status, d.attempts, d.next_attempt_at,"
    " d.first_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at,"
    " d.created_at, m.kind, m.referral_id, m.submission_id"
)
Db: TypeAlias = "Connection | asyncpg.Pool"


async def lock_provider_endpoints(conn: Connection, provider_id: str) -> None:
    """Until the caller's transaction ends, no other registration for the provider runs: the
    count it checks against the limit stays true up to its insert."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoint:' || $1, 0))", provider_id
    )


async def block_for_url(conn: Db, provider_id: str, url: str) -> asyncpg.Record | None:
    """The operator's block on the URL's host for the provider, if any (migration 014's host)."""
    return await conn.fetchrow(
        "SELECT endpoint_id, host, reason FROM webhook_operator_block"
        " WHERE provider_id = $1 AND host = webhook_url_host($2) ORDER BY blocked_at LIMIT 1",
        provider_id,
        url,
    )


async def endpoint_disabled_at(
    conn: Connection, endpoint_id: uuid.UUID, provider_id: str
) -> tuple[bool, Any]:
    """Whether the provider has the endpoint, and when it was disabled (locked for the caller's
    transaction)."""
    row = await conn.fetchrow(
        "SELECT disabled_at FROM webhook_endpoint WHERE endpoint_id = $1 AND provider_id = $2 FOR UPDATE",
        endpoint_id,
        provider_id,
    )
    return (row is not None, row["disabled_at"] if row is not None else None)


async def count_endpoints(conn: Db, provider_id: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM webhook_endpoint WHERE provider_id = $1", provider_id
    )
    return count


async def insert_endpoint(
    conn: Db,
    endpoint_id: uuid.UUID,
    provider_id: str,
    url: str,
    event_kinds: list[str],
    description: str | None,
    secret_sealed: bytes,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO webhook_endpoint (endpoint_id, provider_id, url, event_kinds, description,"
        f" secret_sealed) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ENDPOINT_COLUMNS}",
        endpoint_id,
        provider_id,
        url,
        event_kinds,
        description,
        secret_sealed,
    )
    assert row is not None  # an INSERT ... RETURNING returns its row
    return row


async def endpoint_for_provider(conn: Db, endpoint_id: uuid.UUID, provider_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE endpoint_id = $1 AND provider_id = $2",
        endpoint_id,
        provider_id,
    )


async def endpoints_for_provider(
    conn: Db, provider_id: str, after: tuple[Any, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE provider_id = $1"
        " AND ($2::timestamptz IS NULL OR (created_at, endpoint_id) > ($2, $3::uuid))"
        " ORDER BY created_at, endpoint_id LIMIT $4",
        provider_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def update_endpoint(
    conn: Db,
    endpoint_id: uuid.UUID,
    provider_id: str,
    *,
    url: str | None,
    event_kinds: list[str] | None,
    description: str | None,
    set_description: bool,
    enabled: bool | None,
) -> asyncpg.Record | None:
    """Changes what is given; ``enabled`` true enables an endpoint the provider or the failing
    deliveries disabled (never one an operator disabled), false disables it."""
    return await conn.fetchrow(
        "UPDATE webhook_endpoint SET url = COALESCE($3, url), event_kinds = COALESCE($4, event_kinds),"
        " description = CASE WHEN $5 THEN $6 ELSE description END,"
        " disabled_at = CASE WHEN $7::boolean IS NULL THEN disabled_at"
        "   WHEN $7 THEN NULL WHEN disabled_at IS NULL THEN now() ELSE disabled_at END,"
        " disabled_by = CASE WHEN $7::boolean IS NULL THEN disabled_by WHEN $7 THEN NULL"
        "   WHEN disabled_at IS NULL THEN 'provider' ELSE disabled_by END,"
        " disabled_reason = CASE WHEN $7::boolean IS NULL THEN disabled_reason WHEN $7 THEN NULL"
        "   WHEN disabled_at IS NULL THEN 'disabled by the provider' ELSE disabled_reason END,"
        " updated_at = now()"
        " WHERE endpoint_id = $1 AND provider_id = $2"
        " AND NOT ($7::boolean IS TRUE AND disabled_by IS NOT DISTINCT FROM 'operator')"
        f" RETURNING {ENDPOINT_COLUMNS}",
        endpoint_id,
        provider_id,
        url,
        event_kinds,
        set_description,
        description,
        enabled,
    )


async def resume_pending(conn: Db, endpoint_id: uuid.UUID) -> None:
    """An endpoint enabled again: its pending deliveries are due now, with a full day of retries
    before them again."""
    await conn.execute(
        "UPDATE webhook_delivery SET next_attempt_at = now(), first_attempt_at = NULL"
        " WHERE endpoint_id = $1 AND status = 'pending'",
        endpoint_id,
    )


async def delete_endpoint(conn: Db, endpoint_id: uuid.UUID, provider_id: str) -> bool:
    status: str = await conn.execute(
        "DELETE FROM webhook_endpoint WHERE endpoint_id = $1 AND provider_id = $2", endpoint_id, provider_id
    )
    return status.endswith(" 1")


async def replace_secret(conn: Db, endpoint_id: uuid.UUID, provider_id: str, secret_sealed: bytes) -> bool:
    status: str = await conn.execute(
        "UPDATE webhook_endpoint SET secret_sealed = $3, updated_at = now()"
        " WHERE endpoint_id = $1 AND provider_id = $2",
        endpoint_id,
        provider_id,
        secret_sealed,
    )
    return status.endswith(" 1")


async def deliveries_for_endpoint(
    conn: Db, endpoint_id: uuid.UUID, before: int | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated by the delivery's sequence."""
    return await conn.fetch(
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_delivery d JOIN webhook_message m USING (message_id)"
        " WHERE d.endpoint_id = $1 AND ($2::bigint IS NULL OR d.seq < $2) ORDER BY d.seq DESC LIMIT $3",
        endpoint_id,
        before,
        limit,
    )


async def redeliver(conn: Db, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    """A new delivery of the same message to the same endpoint, due now, after any pending one
    for its referral. None when there is no such delivery to the endpoint."""
    return await conn.fetchrow(
        "WITH again AS ("
        " INSERT INTO webhook_delivery (delivery_id, endpoint_id, message_id, ordering_key)"
        " SELECT $3, endpoint_id, message_id, ordering_key FROM webhook_delivery"
        " WHERE delivery_id = $2 AND endpoint_id = $1 RETURNING *)"
        f" SELECT {DELIVERY_COLUMNS} FROM again d JOIN webhook_message m USING (message_id)",
        endpoint_id,
        delivery_id,
        uuid.uuid4(),
    )


# Due deliveries of enabled endpoints, each the earliest pending one for its referral at its
# endpoint, locked (SKIP LOCKED: another replica takes others) and claimed by moving their next
# attempt past the attempt's longest time: a worker that dies mid-attempt leaves them due again.
_CLAIM = """
WITH due AS (
    SELECT d.seq FROM webhook_delivery d
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
    AND EXISTS (
        SELECT 1 FROM webhook_endpoint e
        WHERE e.endpoint_id = d.endpoint_id AND e.disabled_at IS NULL
        -- An operator's block covers the provider's every endpoint at the host.
        AND NOT EXISTS (
            SELECT 1 FROM webhook_operator_block b
            WHERE b.provider_id = e.provider_id AND b.host = webhook_url_host(e.url)
        )
        -- A provider with no enabled client is cut off: its deliveries wait.
        AND EXISTS (
            SELECT 1 FROM provider_client c WHERE c.provider_id = e.provider_id AND c.disabled_at IS NULL
        )
    )
    AND NOT EXISTS (
        SELECT 1 FROM webhook_delivery earlier
        WHERE earlier.endpoint_id = d.endpoint_id AND earlier.ordering_key = d.ordering_key
        AND earlier.status = 'pending' AND earlier.seq < d.seq
        -- Kept a subquery, run for each candidate through the index of pending deliveries in
        -- order (OFFSET 0: the planner does not make it a join). As a join, the plan kept for
        -- this statement from a new database's first claims, on tables empty and never
        -- analysed, read every pending delivery at each claim until they were analysed.
        OFFSET 0
    )
    ORDER BY d.next_attempt_at, d.seq
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_delivery d
SET attempts = d.attempts + 1, next_attempt_at = now() + $2::interval, last_attempt_at = now(),
    first_attempt_at = COALESCE(d.first_attempt_at, now())
FROM due, webhook_endpoint e, webhook_message m
WHERE d.seq = due.seq AND e.endpoint_id = d.endpoint_id AND m.message_id = d.message_id
RETURNING d.seq, d.delivery_id, d.attempts, d.first_attempt_at, d.last_attempt_at, e.endpoint_id,
    e.provider_id, e.url, e.secret_sealed, m.message_id, m.kind, m.referral_id, m.submission_id, m.data, m.at
"""


async def claim_due(conn: Db, limit: int, lease: timedelta) -> list[asyncpg.Record]:
    return await conn.fetch(_CLAIM, limit, lease)


async def mark_delivered(
    conn: Db, seq: int, attempts: int, status_code: int, url: str, address: str | None
) -> None:
    """Delivered, unless another worker has attempted it since (its lease ran out)."""
    await conn.execute(
        "UPDATE webhook_delivery SET status = 'delivered', delivered_at = now(), last_status_code = $3,"
        " last_error = NULL, last_url = $4, last_address = $5"
        " WHERE seq = $1 AND attempts = $2 AND status = 'pending'",
        seq,
        attempts,
        status_code,
        url,
        address,
    )


async def postpone(conn: Db, seq: int, attempts: int, retry_in: timedelta) -> None:
    """Not attempted after all (no resolver thread was free): the claim's attempt is taken back,
    and the delivery is due again after ``retry_in``."""
    await conn.execute(
        "UPDATE webhook_delivery SET attempts = attempts - 1, next_attempt_at = now() + $3::interval,"
        " first_attempt_at = CASE WHEN attempts = 1 THEN NULL ELSE first_attempt_at END"
        " WHERE seq = $1 AND attempts = $2 AND status = 'pending'",
        seq,
        attempts,
        retry_in,
    )


async def mark_failed_attempt(
    conn: Db,
    seq: int,
    attempts: int,
    status_code: int | None,
    error: str,
    retry_in: timedelta,
    url: str,
    address: str | None,
) -> None:
    await conn.execute(
        # Counted from the attempt's start, so the schedule does not drift with slow answers.
        "UPDATE webhook_delivery SET next_attempt_at = last_attempt_at + $5::interval, last_status_code = $3,"
        " last_error = $4, last_url = $6, last_address = $7"
        " WHERE seq = $1 AND attempts = $2 AND status = 'pending'",
        seq,
        attempts,
        status_code,
        error,
        retry_in,
        url,
        address,
    )


async def give_up(
    conn: Connection,
    seq: int,
    attempts: int,
    status_code: int | None,
    error: str,
    endpoint_reason: str,
    url: str,
    address: str | None,
) -> bool:
    """The delivery failed for good, and its endpoint is disabled saying why; one transaction
    (the caller's). False when another worker had attempted it since."""
    endpoint_id = await conn.fetchval(
        "UPDATE webhook_delivery SET status = 'failed', last_status_code = $3, last_error = $4,"
        " last_url = $5, last_address = $6"
        " WHERE seq = $1 AND attempts = $2 AND status = 'pending' RETURNING endpoint_id",
        seq,
        attempts,
        status_code,
        error,
        url,
        address,
    )
    if endpoint_id is None:
        return False
    await conn.execute(
        "UPDATE webhook_endpoint SET disabled_at = now(), disabled_by = 'deliveries', disabled_reason = $2,"
        " updated_at = now() WHERE endpoint_id = $1 AND disabled_at IS NULL",
        endpoint_id,
        endpoint_reason,
    )
    return True


# --- operators ------------------------------------------------------------------------------


async def all_endpoints(conn: Db, provider_id: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE $1::text IS NULL OR provider_id = $1"
        " ORDER BY provider_id, created_at, endpoint_id",
        provider_id,
    )


async def disable_by_operator(conn: Db, endpoint_id: uuid.UUID, reason: str) -> bool:
    """Disabled, and its URL's host blocked for the provider (`webhook_operator_block`) until an
    operator enables it, also after the provider deletes it; one statement."""
    disabled: bool = await conn.fetchval(
        "WITH disabled AS ("
        " UPDATE webhook_endpoint SET disabled_at = now(), disabled_by = 'operator', disabled_reason = $2,"
        " updated_at = now() WHERE endpoint_id = $1 RETURNING endpoint_id, provider_id, url),"
        " blocked AS ("
        " INSERT INTO webhook_operator_block (endpoint_id, provider_id, url, reason)"
        " SELECT endpoint_id, provider_id, url, $2 FROM disabled"
        " ON CONFLICT (endpoint_id) DO UPDATE SET url = EXCLUDED.url, reason = EXCLUDED.reason)"
        " SELECT EXISTS (SELECT 1 FROM disabled)",
        endpoint_id,
        reason,
    )
    return disabled


async def enable_by_operator(conn: Db, endpoint_id: uuid.UUID) -> bool:
    """Enabled, and its block lifted (also the block of an endpoint the provider deleted); one
    statement. False when it was neither disabled nor blocked."""
    done: bool = await conn.fetchval(
        "WITH enabled AS ("
        " UPDATE webhook_endpoint SET disabled_at = NULL, disabled_by = NULL, disabled_reason = NULL,"
        " updated_at = now() WHERE endpoint_id = $1 AND disabled_at IS NOT NULL RETURNING endpoint_id),"
        " lifted AS (DELETE FROM webhook_operator_block WHERE endpoint_id = $1 RETURNING endpoint_id)"
        " SELECT EXISTS (SELECT 1 FROM enabled) OR EXISTS (SELECT 1 FROM lifted)",
        endpoint_id,
    )
    return done


async def blocks(conn: Db, provider_id: str | None) -> list[asyncpg.Record]:
    """The operators' blocks (every provider's, or one provider's), also those whose endpoint
    the provider deleted since."""
    return await conn.fetch(
        "SELECT b.provider_id, b.host, b.endpoint_id, b.url, b.reason, b.blocked_at,"
        " EXISTS (SELECT 1 FROM webhook_endpoint e WHERE e.endpoint_id = b.endpoint_id) AS endpoint_exists"
        " FROM webhook_operator_block b WHERE $1::text IS NULL OR b.provider_id = $1"
        " ORDER BY b.provider_id, b.host, b.blocked_at",
        provider_id,
    )


async def unblock_host(conn: Db, provider_id: str, host: str) -> list[uuid.UUID]:
    """Every block on the host (as `webhook_url_host` gives it) for the provider lifted, and the
    endpoints an operator disabled with them enabled, the pending deliveries at the host due now
    (one statement); the endpoints whose blocks were lifted."""
    lifted: list[asyncpg.Record] = await conn.fetch(
        "WITH lifted AS ("
        " DELETE FROM webhook_operator_block WHERE provider_id = $1 AND host = $2"
        " RETURNING endpoint_id),"
        " enabled AS ("
        " UPDATE webhook_endpoint SET disabled_at = NULL, disabled_by = NULL, disabled_reason = NULL,"
        " updated_at = now() WHERE endpoint_id IN (SELECT endpoint_id FROM lifted)"
        " AND disabled_by = 'operator' RETURNING endpoint_id),"
        " resumed AS ("
        " UPDATE webhook_delivery SET next_attempt_at = now(), first_attempt_at = NULL"
        " WHERE status = 'pending' AND endpoint_id IN ("
        "  SELECT endpoint_id FROM webhook_endpoint"
        "  WHERE provider_id = $1 AND webhook_url_host(url) = $2))"
        " SELECT endpoint_id FROM lifted",
        provider_id,
        host,
    )
    return [row["endpoint_id"] for row in lifted]
