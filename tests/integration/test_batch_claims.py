"""A batch's pending-dead-letter check and inbox claims (one statement, consumer._PENDING_OR_CLAIM),
against PostgreSQL: an event whose dead letter waits for replay is skipped (its offset may pass,
the dead letter keeps it), a second copy of an event in the batch and an event handled before
are duplicates, and a replayed event is handled once."""

from __future__ import annotations

import asyncpg

from samspil.runtime.codec import Record
from samspil.runtime.consumer import ReliableConsumer
from samspil.runtime.db import Connection
from samspil.runtime.deadletters import replay_dead_letters
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.registry import EVENT_TYPES
from tests.integration.conftest import DEAD_LETTER_KEY, EFFECT_TABLE, Consumed
from tests.support import citizen_ref, encoded_notice


def consumed(records: list[Record], first_offset: int = 0) -> list[Consumed]:
    return [
        Consumed(record.topic, 0, offset, record.key, record.value, record.headers)
        for offset, record in enumerate(records, start=first_offset)
    ]


async def test_a_batch_skips_an_event_whose_dead_letter_waits_and_claims_each_other_event_once(
    outbox_db: asyncpg.Pool,
) -> None:
    await outbox_db.execute(EFFECT_TABLE)
    subject = citizen_ref()
    failing, failing_record = encoded_notice(subject)
    _, fresh_record = encoded_notice(subject)
    refuse = {failing.id}

    async def handler(conn: Connection, envelope: Envelope, _: object) -> None:
        if envelope.id in refuse:
            raise ValueError("the case system refused it")
        await conn.execute(
            "INSERT INTO effect (event_id, citizen_ref) VALUES ($1, $2)", envelope.id, envelope.subject
        )

    consumer = ReliableConsumer(
        name="claims",
        pool=outbox_db,
        handlers={AbsenceNoticeSubmitted: handler},
        known_types=EVENT_TYPES,
        dead_letter_key=DEAD_LETTER_KEY,
        max_attempts=1,
        backoff_base=0.0,
    )

    async def effects() -> dict[str, int]:
        rows = await outbox_db.fetch("SELECT event_id, count(*) AS n FROM effect GROUP BY event_id")
        return {("failing" if row["event_id"] == failing.id else "fresh"): row["n"] for row in rows}

    await consumer.process_batch(consumed([failing_record]))
    assert await outbox_db.fetchval("SELECT count(*) FROM dead_letter WHERE replayed_at IS NULL") == 1

    # Given again (a partition read again) with a new event twice and once more alone: the one
    # whose dead letter waits is skipped even though its handler would now succeed.
    refuse.clear()
    progress = await consumer.process_batch(
        consumed([failing_record, fresh_record, fresh_record, failing_record], first_offset=1)
    )
    assert progress.commit and not progress.rewind
    assert await effects() == {"fresh": 1}
    assert await outbox_db.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'claims'") == 1
    assert await outbox_db.fetchval("SELECT count(*) FROM dead_letter") == 1, "not dead-lettered again"

    # Handled before: a duplicate now.
    await consumer.process_batch(consumed([fresh_record], first_offset=5))
    assert await effects() == {"fresh": 1}

    # Replayed: the event comes again and is handled, once, however often it is given.
    async with outbox_db.acquire() as conn:
        assert await replay_dead_letters(conn) == 1
    await consumer.process_batch(consumed([failing_record, fresh_record, failing_record], first_offset=6))
    assert await effects() == {"failing": 1, "fresh": 1}
    assert await outbox_db.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'claims'") == 2
