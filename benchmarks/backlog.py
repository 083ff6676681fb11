"""The employment consumer draining a backlog of absence notices put straight on its topic."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks import setup
from benchmarks.raw import ratio, row
from samspil.local.runner import LocalStack
from samspil.runtime.codec import Record, encode
from schemas.topics import PROVIDER_REPORTS

PG1 = "commit_per_s_1_conn"


def backlog_records(count: int) -> tuple[list[Record], list[uuid.UUID]]:
    """Valid absence notices (current version) as the gateway's relay publishes them, spread
    over count // 4 citizens, so every partition gets a share and each citizen a few in order."""
    provider = f"bench-{uuid.uuid4().hex[:6]}"
    run = uuid.uuid4().hex
    citizens = ["k1:" + hashlib.sha256(f"{run}-{i}".encode()).hexdigest() for i in range(max(1, count // 4))]
    records, event_ids = [], []
    for index in range(count):
        envelope, notice = setup.absence_notice(citizens[index % len(citizens)], provider)
        records.append(encode(envelope, notice))
        event_ids.append(envelope.id)
    return records, event_ids


async def consumer_backlog(
    stack: LocalStack, env: Mapping[str, str], bootstrap: str, count: int
) -> dict[str, float]:
    """The employment consumer draining a backlog: stop the service, put ``count`` notices on
    the provider-reports topic, wait until the social service (the topic's other reader, which
    ignores absence notices but still reads and commits them) is past them all, start the
    employment service again, and time its inbox rows from the first handled event to the last.
    Start-up and the consumer-group join come before the first row, so they are not in the rate."""
    records, event_ids = backlog_records(count)
    stack.stop_service("employment")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False
    )
    await producer.start()
    started = time.perf_counter()
    futures = [
        await producer.send(PROVIDER_REPORTS.name, r.value, key=r.key, headers=r.headers) for r in records
    ]
    placed = await asyncio.gather(*futures)
    produce_seconds = time.perf_counter() - started
    await producer.stop()
    ends: dict[TopicPartition, int] = {}
    for meta in placed:
        partition = TopicPartition(meta.topic, meta.partition)
        ends[partition] = max(ends.get(partition, 0), meta.offset + 1)

    # Until the social service is past the backlog, it competes for the same cores.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            committed = await admin.list_consumer_group_offsets("samspil-social", partitions=list(ends))
            if all(p in committed and committed[p].offset >= end for p, end in ends.items()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the social service did not read the backlog within 120 s")
            await asyncio.sleep(0.25)
    finally:
        await admin.close()

    employment_db = await asyncpg.connect(env["EMPLOYMENT_DATABASE_URL"])

    async def handled() -> int:
        rows: int = await employment_db.fetchval(
            "SELECT count(*) FROM inbox WHERE consumer = 'employment' AND event_id = ANY($1::uuid[])",
            event_ids,
        )
        return rows

    try:
        service_started = await employment_db.fetchval("SELECT clock_timestamp()")
        stack.start_service("employment")
        deadline = time.monotonic() + 600
        while await handled() < count:
            if dead := stack.dead_services():
                raise RuntimeError(f"{', '.join(dead)} exited; see {stack.logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"employment: {await handled()} of {count} handled in 600 s")
            # The figures come from the rows' own timestamps; polling only says when to read them.
            await asyncio.sleep(0.25)
        span = await employment_db.fetchrow(
            "SELECT min(processed_at), max(processed_at) FROM inbox"
            " WHERE consumer = 'employment' AND event_id = ANY($1::uuid[])",
            event_ids,
        )
        assert span is not None
        first, last = span
        tasks = await employment_db.fetchval(
            "SELECT count(*) FROM caseworker_task WHERE source_event_id = ANY($1::uuid[])", event_ids
        )
    finally:
        await employment_db.close()
    assert tasks == count, f"{tasks} tasks for {count} notices"
    stack.wait_ready(timeout=30)
    # processed_at is each handling transaction's start: first to last spans count - 1 events.
    drain_seconds = (last - first).total_seconds()
    return {
        "events": count,
        "produce_per_s": count / produce_seconds,
        "start_to_first_s": (first - service_started).total_seconds(),
        "drain_s": drain_seconds,
        "events_per_s": (count - 1) / drain_seconds,
    }


def report(c: dict[str, float], results: dict[str, Any]) -> list[str]:
    return [
        f"employment consumer, backlog drained   {c['events_per_s']:>10,.0f} events/s   (target 3,000; "
        f"{c['events']:,} notices, first -> last handled in {c['drain_s']:,.1f} s)",
        f"  backlog produced onto the topic      {c['produce_per_s']:>10,.0f} records/s",
        f"  service start -> first handled event {c['start_to_first_s']:>10,.1f} s (not in the rate)",
        row("  consumer / raw consume", ratio(c["events_per_s"], results, "broker", "consume_per_s")),
        row("  consumer / raw commits (1 connection)", ratio(c["events_per_s"], results, "postgres", PG1)),
    ]
