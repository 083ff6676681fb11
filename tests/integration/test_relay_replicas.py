"""Two replicas of a service each run an outbox relay: one leads, the other stands by, and
every event is published once, in order per citizen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg

from samspil.runtime.codec import Record, header
from samspil.runtime.db import migrate
from samspil.runtime.kafka import KafkaSender
from samspil.runtime.outbox import OutboxRelay, add_event
from schemas.topics import PROVIDER_REPORTS
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory
from tests.support import absence_notice, citizen_ref, read_topic, wait_for


@dataclass
class Replicas:
    pool: asyncpg.Pool
    relays: list[OutboxRelay]
    subject: str
    event_ids: list[str]

    async def write(self, count: int) -> None:
        """Events for one citizen, each in its own transaction, while the relays run."""
        for _ in range(count):
            envelope, notice = absence_notice(self.subject)
            self.event_ids.append(str(envelope.id))
            async with self.pool.acquire() as conn, conn.transaction():
                await add_event(conn, envelope, notice)

    async def all_published(self) -> bool:
        return not await self.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    async def one_leader(self) -> bool:
        return sum(relay.is_leader for relay in self.relays) == 1


@contextlib.asynccontextmanager
async def two_replicas(infra: Infra, batch_size: int) -> AsyncIterator[Replicas]:
    """Two relays, each with its own producer, on one service database."""
    pool = await asyncpg.create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    senders = [
        KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None) for _ in range(2)
    ]
    for sender in senders:
        await sender.start()
    relays = [OutboxRelay(pool, sender, poll_interval=0.1, batch_size=batch_size) for sender in senders]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield Replicas(pool, relays, citizen_ref(), [])
    finally:
        for relay in relays:
            relay.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sender in senders:
            await sender.stop()
        await pool.close()


async def published_for(infra: Infra, subject: str) -> list[str | None]:
    return [
        header(headers, "ce_id")
        for key, _, headers in await read_topic(infra.bootstrap_servers, PROVIDER_REPORTS.name)
        if key == subject.encode()
    ]


async def test_two_relay_replicas_publish_each_event_once_in_order(infra: Infra) -> None:
    async with two_replicas(infra, batch_size=25) as replicas:
        await replicas.write(120)
        await wait_for(replicas.all_published)
        assert sorted(relay.is_leader for relay in replicas.relays) == [False, True]
    assert await published_for(infra, replicas.subject) == replicas.event_ids


async def test_a_leader_that_loses_its_database_session_stops_publishing_and_another_takes_over(
    infra: Infra,
) -> None:
    async with two_replicas(infra, batch_size=10) as replicas:
        await replicas.write(40)
        await wait_for(replicas.one_leader)
        # The lock holder's session is killed (idle timeout, a proxy, an operator) mid-stream.
        killed = await replicas.pool.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = 7310002 AND granted"
        )
        assert killed
        await replicas.write(40)
        await wait_for(replicas.all_published)
        await wait_for(replicas.one_leader)
    # At least once (a batch in flight when the session died may go again), in order.
    first_seen = list(dict.fromkeys(await published_for(infra, replicas.subject)))
    assert first_seen == replicas.event_ids


async def test_a_record_the_broker_can_never_take_is_parked_and_the_citizens_later_events_still_flow(
    infra: Infra,
) -> None:
    pool = await asyncpg.create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    subject = citizen_ref()
    huge_envelope, huge = absence_notice(subject)
    later_envelope, later = absence_notice(subject)
    async with pool.acquire() as conn, conn.transaction():
        await add_event(conn, huge_envelope, huge)
        # Inflate the stored record past the broker's 1 MB limit.
        await conn.execute("UPDATE outbox SET payload = payload || repeat(' ', 1100000)::bytea")
        await add_event(conn, later_envelope, later)
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await sender.start()
    try:
        relay = OutboxRelay(pool, sender)
        assert await relay.publish_batch() == (0, 1)  # parked, and the later one held back
        assert await relay.publish_batch() == (1, 0)  # the later one goes on its own
        assert await relay.publish_batch() == (0, 0)  # nothing spins
        parked = await pool.fetchrow(
            "SELECT parked_at, last_error FROM outbox WHERE event_id = $1", str(huge_envelope.id)
        )
        assert parked is not None
        assert parked["parked_at"] is not None and "MessageSizeTooLarge" in parked["last_error"]
    finally:
        await sender.stop()
        await pool.close()


async def test_a_relay_sends_nothing_while_the_broker_is_away_and_everything_again_to_a_new_broker(
    infra: Infra,
) -> None:
    pool = await asyncpg.create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await sender.start()
    identity: list[str | None] = ["cluster-a"]
    asked = [0]

    async def broker_identity() -> str | None:
        asked[0] += 1
        return identity[0]

    relay = OutboxRelay(pool, sender, poll_interval=0.05, broker_identity=broker_identity)
    task = asyncio.create_task(relay.run())
    replicas = Replicas(pool, [relay], citizen_ref(), [])
    try:
        await replicas.write(3)
        await wait_for(replicas.all_published)
        # The broker does not answer: what is written waits, however often the relay asks. (The
        # relay trusts an answer for a second, or until a send fails; this broker's sends do
        # not fail, so the rows are written once the relay has asked again.)
        identity[0] = None
        asked_before = asked[0]

        async def asked_again() -> bool:
            return asked[0] > asked_before

        await wait_for(asked_again)
        await replicas.write(2)
        seen = asked[0]

        async def asked_five_more_times() -> bool:
            return asked[0] >= seen + 5

        await wait_for(asked_five_more_times)
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 2
        # Another broker answers (the embedded one after a restart): it holds nothing, so every
        # retained event goes again, before the new ones, in order.
        identity[0] = "cluster-b"
        await wait_for(replicas.all_published)
        assert await pool.fetchval("SELECT value FROM relay_state WHERE name = 'broker_cluster_id'") == (
            "cluster-b"
        )
    finally:
        relay.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sender.stop()
        await pool.close()
    first, second = replicas.event_ids[:3], replicas.event_ids[3:]
    assert await published_for(infra, replicas.subject) == first + first + second


async def test_the_broker_check_can_be_turned_off_and_events_still_flow(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    """SAMSPIL_BROKER_CHECK_SECONDS=0: no watch, and the outbox publishes without asking the
    broker who it is (it records no cluster id); with the default it does."""
    for check_seconds, recorded in ((0.0, False), (5.0, True)):
        async with consumer_runtime(samspil_broker_check_seconds=check_seconds) as runtime:
            await runtime.connected()
            replicas = Replicas(runtime.pool, [runtime.relay], citizen_ref(), [])
            await replicas.write(2)
            await wait_for(replicas.all_published)
            known = await runtime.pool.fetchval(
                "SELECT value FROM relay_state WHERE name = 'broker_cluster_id'"
            )
            assert (known is not None) is recorded
            assert (runtime._watch_task is not None) is recorded
        assert await published_for(infra, replicas.subject) == replicas.event_ids


@dataclass
class BrokerReplacedAtSend:
    """A sender whose ``at``-th batch fails because the broker is replaced just then: it fails
    that batch, as a broker going away does, and from then on a new broker answers."""

    sender: KafkaSender
    identity: list[str]
    at: int
    sent: int = 0

    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        self.sent += 1
        if self.sent == self.at:
            self.identity[0] = "cluster-b"
            return [ConnectionError("the broker went away")] * len(records)
        return await self.sender.send_all(records)


async def test_a_broker_replaced_while_the_relay_drains_full_batches_is_followed_before_the_next(
    infra: Infra,
) -> None:
    """Draining a backlog in full batches, the relay trusts the broker's answer for a second; a
    send that fails sooner (the broker going away) makes it ask again first, so the replacement
    is followed, and every retained event published again in order, before anything new goes
    to the new broker."""
    pool = await asyncpg.create_pool(infra.create_database(), min_size=1, max_size=4)
    await migrate(pool, "samspil.runtime.migrations")
    kafka = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await kafka.start()
    identity = ["cluster-a"]
    sender = BrokerReplacedAtSend(kafka, identity, at=2)

    async def broker_identity() -> str | None:
        return identity[0]

    relay = OutboxRelay(pool, sender, batch_size=1, poll_interval=0.05, broker_identity=broker_identity)
    replicas = Replicas(pool, [relay], citizen_ref(), [])
    await replicas.write(3)  # a backlog of three batches of one
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(replicas.all_published)
        assert await pool.fetchval("SELECT value FROM relay_state WHERE name = 'broker_cluster_id'") == (
            "cluster-b"
        )
    finally:
        relay.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await kafka.stop()
        await pool.close()
    first, *rest = replicas.event_ids
    # The first went to the old broker; after the failed second the relay asked, found the new
    # broker, and published all three again in order. (Trusting its answer past the failure it
    # would have sent the second and third on before asking: first, second, third, then all
    # three again.)
    assert await published_for(infra, replicas.subject) == [first, first, *rest]
