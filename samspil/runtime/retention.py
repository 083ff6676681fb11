"""Bounded retention of the reliable-messaging tables, purged in batches by each service's
scheduler.

- An inbox row exists to recognise an event delivered again, which only a broker that still
  holds the record can do. So it is kept for its topic's retention plus a margin, counted from
  the last time the event was seen (a duplicate refreshes it): Kafka deletes a log segment only
  once its newest record is past retention, and rolls a segment after at most ``segment.ms``
  (7 days by default), so a record can outlive the retention by that much.
- A published outbox row is kept for its topic's retention, so that a broker that lost its
  memory can be given again what it would still have held (see the relay's broker epoch). An
  unpublished or parked row is never purged.
- A dead letter is kept no longer than its source topic keeps records, and a replayed one for a
  shorter, set time.
- An Idempotency-Key with its first answer is kept for a set time (at least a day), the time a
  caller may retry a request and must get the same answer.

A topic the catalogue does not know is given the longest retention in it. Each statement deletes
at most ``batch_size`` rows, so a large backlog never holds long locks or one huge transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from samspil.runtime.metrics import scheduler_run
from samspil.runtime.settings import RuntimeSettings
from schemas.topics import CATALOGUE

log = structlog.get_logger("samspil.retention")


@dataclass(frozen=True)
class RetentionPolicy:
    inbox_margin: timedelta
    replayed_dead_letters: timedelta
    batch_size: int
    idempotency_keys: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> RetentionPolicy:
        return cls(
            inbox_margin=timedelta(hours=settings.inbox_retention_margin_hours),
            replayed_dead_letters=timedelta(days=settings.replayed_dead_letter_retention_days),
            idempotency_keys=timedelta(hours=settings.idempotency_key_retention_hours),
            batch_size=settings.retention_batch_size,
        )


@dataclass(frozen=True)
class Purged:
    rows: int
    statements: int


# Each query selects at most $N rows to delete by their physical address (ctid): a row changed
# meanwhile (an inbox row refreshed by a duplicate) has moved and is left alone.
_INBOX = """
DELETE FROM inbox WHERE ctid = ANY(ARRAY(
    SELECT i.ctid FROM inbox i
    LEFT JOIN unnest($1::text[], $2::bigint[]) AS kept(topic, ms) ON kept.topic = i.topic
    WHERE i.last_seen_at < now() - make_interval(secs => (coalesce(kept.ms, $3) + $4) / 1000.0)
    LIMIT $5))
"""
_OUTBOX = """
DELETE FROM outbox WHERE ctid = ANY(ARRAY(
    SELECT o.ctid FROM outbox o
    LEFT JOIN unnest($1::text[], $2::bigint[]) AS kept(topic, ms) ON kept.topic = o.topic
    WHERE o.published_at IS NOT NULL
      AND o.published_at < now() - make_interval(secs => coalesce(kept.ms, $3) / 1000.0)
    LIMIT $4))
"""
_DEAD_LETTERS = """
DELETE FROM dead_letter WHERE id = ANY(ARRAY(
    SELECT d.id FROM dead_letter d
    LEFT JOIN unnest($1::text[], $2::bigint[]) AS kept(topic, ms) ON kept.topic = d.topic
    WHERE d.created_at < now() - make_interval(secs => coalesce(kept.ms, $3) / 1000.0)
       OR d.replayed_at < now() - make_interval(secs => $4 / 1000.0)
    LIMIT $5))
"""

_IDEMPOTENT_REQUESTS = """
DELETE FROM idempotent_request WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotent_request WHERE created_at < now() - $1::interval LIMIT $2))
"""


async def purge_in_batches(pool: asyncpg.Pool, statement: str, *args: Any) -> Purged:
    """Run a DELETE whose last parameter is its batch size until a run deletes fewer rows."""
    batch_size = args[-1]
    rows = statements = 0
    while True:
        status = await pool.execute(statement, *args)
        deleted = int(status.split()[-1])
        rows += deleted
        statements += 1
        if deleted < batch_size:
            return Purged(rows, statements)
        await asyncio.sleep(0)  # let the service's own work in between


async def purge_messaging_tables(pool: asyncpg.Pool, policy: RetentionPolicy) -> dict[str, Purged]:
    """Purge the inbox, outbox, dead-letter and Idempotency-Key rows past their retention."""
    names = [topic.name for topic in CATALOGUE]
    kept_ms = [topic.retention_ms for topic in CATALOGUE]
    longest = max(kept_ms)
    margin_ms = int(policy.inbox_margin.total_seconds() * 1000)
    replayed_ms = int(policy.replayed_dead_letters.total_seconds() * 1000)
    batch = policy.batch_size
    return {
        "inbox": await purge_in_batches(pool, _INBOX, names, kept_ms, longest, margin_ms, batch),
        "outbox": await purge_in_batches(pool, _OUTBOX, names, kept_ms, longest, batch),
        "dead_letter": await purge_in_batches(
            pool, _DEAD_LETTERS, names, kept_ms, longest, replayed_ms, batch
        ),
        "idempotent_request": await purge_in_batches(
            pool, _IDEMPOTENT_REQUESTS, policy.idempotency_keys, batch
        ),
    }


ExtraPurge = Callable[[asyncpg.Pool], Awaitable[dict[str, Purged]]]


def worker(
    settings: RuntimeSettings, *extra: ExtraPurge
) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    """The periodic purge, for a service's scheduler: the messaging tables and whatever else the
    service keeps for a bounded time (``extra``)."""
    policy = RetentionPolicy.from_settings(settings)

    async def run(pool: asyncpg.Pool) -> None:
        while True:
            try:
                with scheduler_run():
                    purged = await purge_messaging_tables(pool, policy)
                    for purge in extra:
                        purged.update(await purge(pool))
                    deleted = {table: result.rows for table, result in purged.items() if result.rows}
                    if deleted:
                        log.info("retention: old rows purged", **deleted)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be away; the next round tries again, and what was deleted is gone.
                log.exception("retention purge failed")
            await asyncio.sleep(settings.retention_scan_seconds)

    return run
