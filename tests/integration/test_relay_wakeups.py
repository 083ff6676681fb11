"""When outbox writers wake the relay (runtime migration 012): only while it sleeps, since a
NOTIFY holds a cluster-wide lock through its transaction's commit; awake, the relay looks by
itself, and it falls asleep only once every writer that saw it awake has committed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg

from samspil.runtime.codec import Record
from samspil.runtime.outbox import _AWAKE_LOCK, NOTIFY_CHANNEL, OutboxRelay, RecordSender, add_record


def record(n: int) -> Record:
    return Record(topic="t", key=b"k", value=f"value-{n}".encode(), headers=[("ce_id", f"e-{n}".encode())])


class Recorded:
    """Takes every record at once and says which it saw."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self.arrived = asyncio.Event()

    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        self.values.extend(r.value for r in records)
        self.arrived.set()
        return [None] * len(records)


def quick_relay(
    pool: asyncpg.Pool, sender: RecordSender, *, stay_awake: float = 0.05, **broker: Any
) -> OutboxRelay:
    """A relay that looks by itself every 5 ms while awake, falls asleep soon, and while asleep
    looks on its own only once a minute: a row that comes sooner came by a wake-up."""
    return OutboxRelay(pool, sender, poll_interval=60.0, busy_poll=0.005, stay_awake=stay_awake, **broker)


async def _write(pool: asyncpg.Pool, n: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await add_record(conn, record(n), f"e-{n}", "type")


async def test_a_writer_notifies_only_while_no_relay_is_awake(outbox_db: asyncpg.Pool) -> None:
    notified: list[Any] = []

    def heard(*args: Any) -> None:
        notified.append(args)

    listener = await outbox_db.acquire()
    relay_session = await outbox_db.acquire()
    await listener.add_listener(NOTIFY_CHANNEL, heard)
    try:
        await relay_session.execute("SELECT pg_advisory_lock($1)", _AWAKE_LOCK)  # a relay awake
        await _write(outbox_db, 1)
        await relay_session.execute("SELECT pg_advisory_unlock($1)", _AWAKE_LOCK)  # asleep
        await _write(outbox_db, 2)
        for _ in range(200):
            if notified:
                break
            await asyncio.sleep(0.05)
        # Notifications come in commit order: the first write's would have come before.
        await listener.fetchval("SELECT 1")
        assert len(notified) == 1, "only the write made while no relay was awake notifies"
    finally:
        await listener.remove_listener(NOTIFY_CHANNEL, heard)
        await outbox_db.release(listener)
        await outbox_db.release(relay_session)


async def test_a_relay_stays_awake_until_a_writer_that_did_not_notify_has_committed(
    outbox_db: asyncpg.Pool,
) -> None:
    """The writer inserts while the relay is awake (so it does not notify) and commits only
    after the relay would have fallen asleep. With a minute between the sleeping relay's own
    looks, only a relay that waited for the writer publishes the row in time."""
    sender = Recorded()
    # Awake for 3 s after its last row: the writer below must insert within that (a second was
    # too short for a loaded machine between the relay's publish and the writer's insert).
    relay = quick_relay(outbox_db, sender, stay_awake=3.0)
    running = asyncio.create_task(relay.run())
    try:
        await _write(outbox_db, 1)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)  # the relay is awake for 3 s
        async with outbox_db.acquire() as writer, writer.transaction():
            await add_record(writer, record(2), "e-2", "type")
            assert not await writer.fetchval("SELECT pg_try_advisory_xact_lock_shared($1)", _AWAKE_LOCK), (
                "the relay was awake when the writer inserted: it did not notify"
            )
            await asyncio.sleep(4.0)  # past stay_awake: the relay tries to fall asleep meanwhile
        for _ in range(200):
            if b"value-2" in sender.values:
                break
            await asyncio.sleep(0.05)
        assert sender.values == [b"value-1", b"value-2"], (
            "the row of a writer that saw the relay awake waited for the relay's next own look"
        )
    finally:
        relay.stop()
        await asyncio.wait_for(running, timeout=30)


async def test_a_sleeping_relay_is_woken_by_the_next_write(outbox_db: asyncpg.Pool) -> None:
    sender = Recorded()
    relay = quick_relay(outbox_db, sender)
    running = asyncio.create_task(relay.run())
    try:
        await _write(outbox_db, 1)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        # Asleep once the awake lock is free again.
        async with outbox_db.acquire() as probe:
            for _ in range(400):
                if await probe.fetchval(
                    "SELECT CASE WHEN pg_try_advisory_lock($1) THEN pg_advisory_unlock($1) ELSE false END",
                    _AWAKE_LOCK,
                ):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the relay never fell asleep")
        sender.arrived.clear()
        await _write(outbox_db, 2)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)  # not the minute's own look
        assert sender.values == [b"value-1", b"value-2"]
    finally:
        relay.stop()
        await asyncio.wait_for(running, timeout=30)


async def test_the_relay_asks_the_broker_who_it_is_again_only_when_its_connections_changed(
    outbox_db: asyncpg.Pool,
) -> None:
    """Same connections, same broker process: a replaced broker closes them. Asking before
    every small batch cost the broker a metadata request per batch."""
    sender = Recorded()
    asked: list[str] = []
    connections: list[tuple[object, ...]] = [(object(),)]

    async def identity() -> str:
        asked.append("asked")
        return "cluster-a"

    relay = quick_relay(
        outbox_db, sender, broker_identity=identity, broker_connections=lambda: connections[0]
    )
    running = asyncio.create_task(relay.run())
    try:
        for n in range(1, 4):
            sender.arrived.clear()
            await _write(outbox_db, n)
            await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        assert len(asked) == 1, "the same connections: asked once, before the first batch"
        connections[0] = (object(),)  # connected again (to whatever listens there now)
        sender.arrived.clear()
        await _write(outbox_db, 4)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        assert len(asked) == 2
        assert sender.values == [b"value-1", b"value-2", b"value-3", b"value-4"]
    finally:
        relay.stop()
        await asyncio.wait_for(running, timeout=30)


async def test_a_relay_is_not_held_up_by_an_open_writer_that_woke_it(outbox_db: asyncpg.Pool) -> None:
    """A writer that saw the relay asleep holds the awake lock shared until it commits, and a
    transaction may stay open long after its outbox insert (a consumer's batch, an import's
    chunk, an operator's session). The relay it woke must not wait for that commit to take the
    lock: meanwhile every other writer's rows would wait with it (and a stopping relay too)."""
    sender = Recorded()
    relay = quick_relay(outbox_db, sender)
    running = asyncio.create_task(relay.run())
    try:
        await _write(outbox_db, 1)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        await _until_asleep(outbox_db)
        async with outbox_db.acquire() as long_writer:
            open_transaction = long_writer.transaction()
            await open_transaction.start()
            try:
                await add_record(long_writer, record(2), "e-2", "type")
                sender.arrived.clear()
                await _write(outbox_db, 3)  # its notification wakes the relay
                try:
                    await asyncio.wait_for(sender.arrived.wait(), timeout=20)
                except TimeoutError:
                    raise AssertionError(
                        "a committed row waited for another writer's open transaction: the relay"
                        " waited for the awake lock that writer holds shared"
                    ) from None
                assert sender.values == [b"value-1", b"value-3"]
                sender.arrived.clear()
            finally:
                await open_transaction.commit()
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        assert sender.values == [b"value-1", b"value-3", b"value-2"]
    finally:
        relay.stop()
        await asyncio.wait_for(running, timeout=30)


async def _until_asleep(pool: asyncpg.Pool) -> None:
    """Until the relay has let the awake lock go (it sleeps)."""
    async with pool.acquire() as probe:
        for _ in range(400):
            held = await probe.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted",
                _AWAKE_LOCK,
            )
            if not held:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the relay never fell asleep")


async def test_no_open_connection_is_no_proof_of_the_same_broker(outbox_db: asyncpg.Pool) -> None:
    """The sender may have no open connection when the relay asks the broker who it is (the
    question makes one; or all closed, the broker going away): none then and none later says
    nothing about who listens now, and the relay must ask again before it sends."""
    sender = Recorded()
    answers = ["cluster-a"]

    async def identity() -> str:
        return answers[0]

    relay = quick_relay(outbox_db, sender, broker_identity=identity, broker_connections=lambda: ())
    running = asyncio.create_task(relay.run())
    try:
        await _write(outbox_db, 1)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        answers[0] = "cluster-b"  # replaced
        sender.arrived.clear()
        await _write(outbox_db, 2)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        for _ in range(200):
            if b"value-2" in sender.values:
                break
            await asyncio.sleep(0.05)
        assert sender.values == [b"value-1", b"value-1", b"value-2"], (
            "the new broker got the new row without the rows the old one held"
        )
    finally:
        relay.stop()
        await asyncio.wait_for(running, timeout=30)


async def test_a_connection_made_while_the_broker_answered_is_not_taken_for_the_one_it_answered_on(
    outbox_db: asyncpg.Pool,
) -> None:
    """The broker answers who it is and goes away; a new one at its address is connected to
    before the relay reads the answer. Only connections open before the question vouch for the
    answer."""
    sender = Recorded()
    answers = ["cluster-a"]
    connections: list[tuple[object, ...]] = [(object(),)]

    async def identity() -> str:
        answer = answers[0]
        if answer == "cluster-a":
            connections[0] = (object(),)  # the old broker gone, a new one connected to
            answers[0] = "cluster-b"
        return answer

    relay = quick_relay(
        outbox_db, sender, broker_identity=identity, broker_connections=lambda: connections[0]
    )
    await _write(outbox_db, 1)  # pending before the relay first asks
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        sender.arrived.clear()
        await _write(outbox_db, 2)
        await asyncio.wait_for(sender.arrived.wait(), timeout=30)
        assert sender.values == [b"value-1", b"value-1", b"value-2"], (
            "the new broker got the new row without the rows the old one held"
        )
    finally:
        relay.stop()
        await asyncio.wait_for(running, timeout=30)
