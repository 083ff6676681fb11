"""The outbox relay alone, draining a backlog: ``rows`` outbox rows (absence notices as the
gateway writes them, spread over many citizens, each with the writer's trace context) are stored set-wise,
then an :class:`OutboxRelay` with a :class:`KafkaSender` publishes them all. Beside it, the raw
produce rate: the same records sent straight to the broker by one producer with the sender's
settings, timed the same way (first send to last acknowledgement).

python -m benchmarks.relay [--rows 100000]   (on fresh embedded infrastructure)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from benchmarks import setup
from samspil.runtime.codec import Record, encode
from samspil.runtime.db import create_pool, migrate
from samspil.runtime.kafka import KafkaSender
from samspil.runtime.outbox import OutboxRelay, add_records

PARTITIONS = 6


async def relay_backlog(dsn: str, bootstrap: str, rows: int = 100_000) -> dict[str, float]:
    """Seed ``rows`` outbox rows into the database at ``dsn`` (the runtime's migrations are
    applied first), publish them with an OutboxRelay until none is pending, and return the
    relay's events/s and the raw produce rate of the same records."""
    topic = f"bench.relay.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)
                for name in (topic, f"{topic}.raw")
            ]
        )
    finally:
        await admin.close()
    raw_per_s = await raw_produce(backlog(f"{topic}.raw", rows), bootstrap)
    records = backlog(topic, rows)

    pool = await create_pool(dsn, min_size=2, max_size=4)
    sender = KafkaSender(bootstrap, enable_idempotence=False)
    await sender.start()
    try:
        await migrate(pool, "samspil.runtime.migrations")
        seeded = time.perf_counter()
        writer = SpanContext(random.getrandbits(128), random.getrandbits(64), False, TraceFlags(1))
        with trace.use_span(NonRecordingSpan(writer)):
            async with pool.acquire() as conn, conn.transaction():
                for start in range(0, rows, 10_000):
                    await add_records(conn, [(r, None, "bench") for r in records[start : start + 10_000]])
        seed_seconds = time.perf_counter() - seeded
        del records  # a relay's process holds none of them
        relay = OutboxRelay(pool, sender, poll_interval=0.5, broker_identity=sender.cluster_id)
        started, cpu_started = time.perf_counter(), time.process_time()
        task = asyncio.create_task(relay.run())
        try:
            while await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND topic = $1", topic
            ):
                if task.done():
                    task.result()
                    raise RuntimeError("the relay stopped before publishing the backlog")
                await asyncio.sleep(0.05)
            relay_seconds = time.perf_counter() - started
            relay_cpu_seconds = time.process_time() - cpu_started
        finally:
            relay.stop()
            await task
    finally:
        await sender.stop()
        await pool.close()
    return {
        "rows": rows,
        "seed_s": seed_seconds,
        "relay_s": relay_seconds,
        "events_per_s": rows / relay_seconds,
        # This process's CPU time while the relay ran: steadier than the wall clock on a busy host.
        "events_per_cpu_s": rows / relay_cpu_seconds,
        "raw_produce_per_s": raw_per_s,
    }


def backlog(topic: str, rows: int) -> list[Record]:
    """Absence notices over rows // 4 citizens (every partition gets a share, each citizen a few
    in order); one encoded for real, the others differing in id and key."""
    run = uuid.uuid4().hex
    citizens = [
        f"k1:{hashlib.sha256(f'{run}-{i}'.encode()).hexdigest()}".encode() for i in range(max(1, rows // 4))
    ]
    envelope, notice = setup.absence_notice(citizens[0].decode(), "bench-provider")
    template = encode(envelope, notice, topic)
    records = []
    for index in range(rows):
        headers = [
            (name, str(uuid.uuid4()).encode() if name == "ce_id" else value)
            for name, value in template.headers
        ]
        key = citizens[index % len(citizens)]
        records.append(Record(topic=topic, key=key, value=template.value, headers=headers))
    return records


async def raw_produce(records: list[Record], bootstrap: str) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def main() -> None:
    from samspil.local.broker import EmbeddedBroker
    from samspil.local.postgres import EmbeddedPostgres
    from samspil.local.runner import free_port

    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samspil-bench-relay-") as folder:
        work = Path(folder)
        broker = EmbeddedBroker(free_port(), work / "broker.log")
        postgres = EmbeddedPostgres(work / "pgdata", free_port(), log_file=work / "postgres.log")
        broker.start()
        postgres.start()
        try:
            dsn = postgres.ensure_service_database("bench_relay")
            print("outbox relay draining a backlog ...", file=sys.stderr, flush=True)
            figures = asyncio.run(relay_backlog(dsn, broker.bootstrap_servers, args.rows))
        finally:
            postgres.stop()
            broker.stop()
    print(report_line(figures))


def report_line(r: dict[str, float]) -> str:
    return (
        f"outbox relay, backlog published        {r['events_per_s']:>10,.0f} events/s "
        f"({r['rows']:,.0f} rows in {r['relay_s']:,.1f} s, {r['events_per_cpu_s']:,.0f} per CPU second; "
        f"raw produce of the same records {r['raw_produce_per_s']:,.0f}/s, "
        f"relay / raw produce {r['events_per_s'] / r['raw_produce_per_s']:.3f})"
    )


if __name__ == "__main__":
    main()
