"""Two replicas of a service each run an outbox relay: one leads, the other stands by, and
every event is published once, in order per citizen."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from samspil.runtime.codec import header
from samspil.runtime.db import migrate
from samspil.runtime.kafka import KafkaSender
from samspil.runtime.outbox import OutboxRelay, add_event
from schemas.topics import PROVIDER_REPORTS
from tests.infra import Infra
from tests.support import absence_notice, citizen_ref, read_topic, wait_for


async def test_two_relay_replicas_publish_each_event_once_in_order(infra: Infra) -> None:
    pool = await asyncpg.create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    subject = citizen_ref()
    senders = [
        KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None) for _ in range(2)
    ]
    for sender in senders:
        await sender.start()
    relays = [OutboxRelay(pool, sender, poll_interval=0.1, batch_size=25) for sender in senders]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        event_ids = []
        for _ in range(120):  # written while both relays run, in small transactions
            envelope, notice = absence_notice(subject)
            event_ids.append(str(envelope.id))
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, envelope, notice)

        async def all_published() -> bool:
            return not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

        await wait_for(all_published)
        assert sorted(relay.is_leader for relay in relays) == [False, True]
    finally:
        for relay in relays:
            relay.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sender in senders:
            await sender.stop()
        await pool.close()

    on_topic = [
        header(headers, "ce_id")
        for key, _, headers in await read_topic(infra.bootstrap_servers, PROVIDER_REPORTS.name)
        if key == subject.encode()
    ]
    assert on_topic == event_ids
