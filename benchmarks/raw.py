"""The raw broker and PostgreSQL rates every other figure is compared with."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def raw_broker(bootstrap: str, messages: int) -> dict[str, float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    await admin.close()
    payload = b"x" * 512
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False
    )
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topic, payload, key=str(i % 1000).encode()) for i in range(messages)]
    await asyncio.gather(*futures)
    produce_seconds = time.perf_counter() - started
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-{topic}", auto_offset_reset="earliest"
    )
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    while seen < messages:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(records) for records in batch.values())
    consume_seconds = time.perf_counter() - started
    await consumer.stop()
    return {"produce_per_s": messages / produce_seconds, "consume_per_s": messages / consume_seconds}


async def raw_postgres(admin_dsn: str, commits: int) -> dict[str, float]:
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, body text)")
    started = time.perf_counter()
    for _ in range(commits):
        await conn.execute("INSERT INTO bench_commit (body) VALUES ('x')")  # one transaction each
    sequential = commits / (time.perf_counter() - started)
    await conn.close()

    pool = await asyncpg.create_pool(admin_dsn, min_size=16, max_size=16)

    async def worker(count: int) -> None:
        for _ in range(count):
            await pool.execute("INSERT INTO bench_commit (body) VALUES ('x')")

    started = time.perf_counter()
    await asyncio.gather(*(worker(commits // 16) for _ in range(16)))
    concurrent = (commits // 16 * 16) / (time.perf_counter() - started)
    await pool.close()
    return {"commit_per_s_1_conn": sequential, "commit_per_s_16_conns": concurrent}


def report(broker: dict[str, float], postgres: dict[str, float]) -> list[str]:
    b, p = broker, postgres
    return [
        f"raw broker produce (512 B, acks=all)   {b['produce_per_s']:>10,.0f} msg/s",
        f"raw broker consume (one group member)  {b['consume_per_s']:>10,.0f} msg/s",
        f"raw PostgreSQL commits, 1 connection   {p['commit_per_s_1_conn']:>10,.0f} commits/s",
        f"raw PostgreSQL commits, 16 connections {p['commit_per_s_16_conns']:>10,.0f} commits/s",
    ]


def row(label: str, text: str) -> str:
    """One line of the report: the label in a column, then the figure."""
    return f"{label:<39}{text}"


def ratio(value: float, results: dict[str, Any], section: str, figure: str) -> str:
    """value / a raw figure, or a dash when the raw section did not run."""
    raw = results.get(section, {}).get(figure)
    return f"{value / raw:>10.3f}" if raw else f"{'-':>10}"
