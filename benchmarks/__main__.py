"""Run every benchmark once on fresh embedded infrastructure and print the figures.

python -m benchmarks [--messages 20000] [--commits 3000] [--notices 2000] [--concurrency 16]
                     [--backlog 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.onboarding import onboarding
from benchmarks.relay import relay_backlog
from benchmarks.relay import report_line as relay_report_line
from samspil.local.broker import CLIENT_ENV, EmbeddedBroker
from samspil.local.postgres import EmbeddedPostgres
from samspil.local.runner import SERVICES, LocalStack, free_port
from samspil.runtime.auth import EMPLOYMENT_AUDIENCE, Role, issue_local_token
from samspil.runtime.codec import Record, encode
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted, AbsenceReason, ContactAttempt, ContactChannel
from schemas.topics import PROVIDER_REPORTS


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


async def first_flow(
    stack: LocalStack, env: dict[str, str], notices: int, concurrency: int, idle_notices: int
) -> dict[str, float]:
    provider = f"bench-{uuid.uuid4().hex[:6]}"
    caseworker = issue_local_token(
        env["SAMSPIL_AUTH_SECRET"],
        subject="bench-caseworker",
        roles=[Role.EMPLOYMENT_CASEWORKER],
        team="Benchmark team",
        name="Benchmark caseworker",
        audience=EMPLOYMENT_AUDIENCE,
    )
    async with httpx.AsyncClient(
        base_url=stack.url("employment"), headers={"authorization": f"Bearer {caseworker}"}, timeout=30
    ) as employment:
        # A made-up CPR number (born 1 January 1970); the service answers with its pseudonym.
        enrolled = await employment.post(
            "/v1/citizens", json={"cpr": "010170-0123", "target_group": "kontanthjaelp"}
        )
        assert enrolled.status_code in (200, 201), enrolled.text
        subject: str = enrolled.json()["citizen_ref"]
        response = await employment.post(
            "/v1/referrals",
            json={
                "citizen_ref": subject,
                "provider_id": provider,
                "offer": {
                    "kind": "activation",
                    "title": "Benchmark offer",
                    "hours_per_week": 10,
                    "starts_on": "2026-12-01",
                },
                "citizen_display_name": "Benchmark citizen",
                "jobcenter_contact": {"name": "Benchmark caseworker"},
            },
        )
        assert response.status_code == 201, response.text
        referral_id = response.json()["referral_id"]
    gateway_db = await asyncpg.connect(env["PROVIDER_GATEWAY_DATABASE_URL"])
    await gateway_db.execute("INSERT INTO provider_client VALUES ($1, $2, 'unused')", provider, provider)
    while not await gateway_db.fetchval(
        "SELECT count(*) FROM referral_view WHERE referral_id = $1", uuid.UUID(referral_id)
    ):
        await asyncio.sleep(0.05)
    from provider_gateway.domain.credentials import TokenClaims, issue_token

    token = issue_token(
        TokenClaims(provider, provider, int(time.time()) + 900), env["PROVIDER_GATEWAY_TOKEN_SECRET"]
    )
    body = {"absent_from": "2026-11-16", "reason": "illness", "contact_attempts": 1}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(notices):
        queue.put_nowait(index)

    async with httpx.AsyncClient(
        base_url=stack.url("provider-gateway"), headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as gateway:
        ingest_ms: list[float] = []

        async def post_notices() -> None:
            while not queue.empty():
                queue.get_nowait()
                sent = time.perf_counter()
                answer = await gateway.post(
                    f"/v1/referrals/{referral_id}/absence-notices",
                    json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                ingest_ms.append((time.perf_counter() - sent) * 1000)
                assert answer.status_code == 202, answer.text

        employment_db = await asyncpg.connect(env["EMPLOYMENT_DATABASE_URL"])

        async def tasks_for(citizen: str) -> int:
            count: int = await employment_db.fetchval(
                "SELECT count(*) FROM caseworker_task WHERE citizen_ref = $1", citizen
            )
            return count

        # Idle latency first: one notice at a time, each waited for until its task exists.
        idle: list[float] = []
        for done in range(1, idle_notices + 1):
            sent = time.perf_counter()
            answer = await gateway.post(
                f"/v1/referrals/{referral_id}/absence-notices",
                json=body,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert answer.status_code == 202, answer.text
            while await tasks_for(subject) < done:
                await asyncio.sleep(0.002)
            idle.append((time.perf_counter() - sent) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(post_notices() for _ in range(concurrency)))
        ingest_seconds = time.perf_counter() - started

    while await tasks_for(subject) < notices + idle_notices:
        await asyncio.sleep(0.1)
    tasks = await employment_db.fetch(
        "SELECT details->>'submission_id' AS submission_id, created_at FROM caseworker_task"
        " WHERE citizen_ref = $1 ORDER BY created_at OFFSET $2",
        subject,
        idle_notices,
    )
    received = {
        str(row["submission_id"]): row["received_at"]
        for row in await gateway_db.fetch(
            "SELECT submission_id, received_at FROM submission WHERE referral_id = $1", uuid.UUID(referral_id)
        )
    }
    await employment_db.close()
    await gateway_db.close()
    latencies = sorted(
        (row["created_at"] - received[row["submission_id"]]).total_seconds() * 1000 for row in tasks
    )
    first = min(received[row["submission_id"]] for row in tasks)
    last = max(row["created_at"] for row in tasks)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "ingest_per_s": notices / ingest_seconds,
        "flow_per_s": notices / (last - first).total_seconds(),
        "latency_ms_p50": quantiles[49],
        "latency_ms_p95": quantiles[94],
        "latency_ms_p99": quantiles[98],
        "latency_ms_max": latencies[-1],
        "ingest_ms_p50": statistics.median(ingest_ms),
        "ingest_ms_p95": statistics.quantiles(ingest_ms, n=100)[94],
        "ingest_ms_p99": statistics.quantiles(ingest_ms, n=100)[98],
        "idle_latency_ms_p50": statistics.median(idle),
        "idle_latency_ms_max": max(idle),
    }


def backlog_records(count: int) -> tuple[list[Record], list[uuid.UUID]]:
    """Valid absence notices (current version) as the gateway's relay publishes them, spread
    over count // 4 citizens, so every partition gets a share and each citizen a few in order."""
    provider = f"bench-{uuid.uuid4().hex[:6]}"
    run = uuid.uuid4().hex
    citizens = ["k1:" + hashlib.sha256(f"{run}-{i}".encode()).hexdigest() for i in range(max(1, count // 4))]
    records, event_ids = [], []
    for index in range(count):
        notice = AbsenceNoticeSubmitted(
            submission_id=uuid.uuid4(),
            referral_id=uuid.uuid4(),
            provider_id=provider,
            absent_from=date(2026, 11, 16),
            reason=AbsenceReason.ILLNESS,
            contact_attempts=[ContactAttempt(on=date(2026, 11, 17), channel=ContactChannel.PHONE)],
            comment="Not seen since Monday; phone unanswered.",
        )
        envelope = Envelope(
            source="/samspil/provider-gateway",
            type=notice.event_type,
            subject=citizens[index % len(citizens)],
            dataschema=notice.dataschema,
            correlationid=notice.submission_id,
        )
        records.append(encode(envelope, notice))
        event_ids.append(envelope.id)
    return records, event_ids


async def consumer_backlog(
    stack: LocalStack, env: dict[str, str], bootstrap: str, count: int
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


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    broker = EmbeddedBroker(free_port(), work / "broker.log")
    postgres = EmbeddedPostgres(work / "pgdata", free_port(), log_file=work / "postgres.log")
    broker.start()
    postgres.start()
    try:
        results: dict[str, Any] = {}
        print("raw broker ...", file=sys.stderr, flush=True)
        results["broker"] = await raw_broker(broker.bootstrap_servers, args.messages)
        print("raw PostgreSQL ...", file=sys.stderr, flush=True)
        results["postgres"] = await raw_postgres(postgres.admin_dsn, args.commits)
        results["onboarding"] = await onboarding(postgres.ensure_service_database("employment_onboarding"))
        print("outbox relay publishing a backlog ...", file=sys.stderr, flush=True)
        results["relay"] = await relay_backlog(
            postgres.ensure_service_database("bench_relay"), broker.bootstrap_servers
        )
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            **CLIENT_ENV,
            # One provider sends the whole load: lift its rate limit, or the limit is measured.
            "PROVIDER_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "PROVIDER_GATEWAY_RATE_LIMIT_BURST": "1000000",
            # Every benchmark client calls from 127.0.0.1: lift the per-address flood ceiling.
            "PROVIDER_GATEWAY_ADDRESS_RATE_PER_SECOND": "1000000",
            "PROVIDER_GATEWAY_ADDRESS_BURST": "1000000",
            "PROVIDER_GATEWAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            # The built-in staff token issuer (the employment API wants a caseworker's token).
            "SAMSPIL_AUTH_SECRET": secrets.token_urlsafe(48),
            "SAMSPIL_LOG_LEVEL": "warning",
        }
        for spec in SERVICES:
            env[f"{spec.env_prefix}DATABASE_URL"] = postgres.ensure_service_database(spec.database)
        stack = LocalStack(
            state_dir=work / "stack", env=env, service_ports={s.name: free_port() for s in SERVICES}
        )
        print("first flow (three service processes) ...", file=sys.stderr, flush=True)
        stack.start(timeout=90)
        try:
            results["flow"] = await first_flow(stack, env, args.notices, args.concurrency, args.idle_notices)
            print("employment consumer draining a backlog ...", file=sys.stderr, flush=True)
            results["consumer"] = await consumer_backlog(stack, env, broker.bootstrap_servers, args.backlog)
        finally:
            stack.stop()
        return results
    finally:
        postgres.stop()
        broker.stop()


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    b, p, f, c = results["broker"], results["postgres"], results["flow"], results["consumer"]
    lines = [
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}",
        f"settings: messages={args.messages} commits={args.commits} notices={args.notices} "
        f"concurrency={args.concurrency} backlog={args.backlog}",
        "",
        f"raw broker produce (512 B, acks=all)   {b['produce_per_s']:>10,.0f} msg/s",
        f"raw broker consume (one group member)  {b['consume_per_s']:>10,.0f} msg/s",
        f"raw PostgreSQL commits, 1 connection   {p['commit_per_s_1_conn']:>10,.0f} commits/s",
        f"raw PostgreSQL commits, 16 connections {p['commit_per_s_16_conns']:>10,.0f} commits/s",
        "",
        relay_report_line(results["relay"]),
        "",
        f"gateway ingest (POST -> 202)           {f['ingest_per_s']:>10,.0f} notices/s",
        f"gateway ingest latency p50/95/99       {f['ingest_ms_p50']:>7,.0f} / {f['ingest_ms_p95']:,.0f} / "
        f"{f['ingest_ms_p99']:,.0f} ms ({args.concurrency} clients)",
        f"first flow (POST -> task committed)    {f['flow_per_s']:>10,.0f} notices/s",
        f"first flow latency, idle, p50 / max    {f['idle_latency_ms_p50']:>7,.0f} / "
        f"{f['idle_latency_ms_max']:,.0f} ms (one notice at a time, POST sent -> task visible)",
        f"first flow latency under load p50/95/99{f['latency_ms_p50']:>7,.0f} / {f['latency_ms_p95']:,.0f} / "
        f"{f['latency_ms_p99']:,.0f} ms (max {f['latency_ms_max']:,.0f})",
        "",
        f"employment consumer, backlog drained   {c['events_per_s']:>10,.0f} events/s "
        f"({c['events']:,} notices, first -> last handled in {c['drain_s']:,.1f} s)",
        f"  backlog produced onto the topic      {c['produce_per_s']:>10,.0f} records/s",
        f"  service start -> first handled event {c['start_to_first_s']:>10,.1f} s (not in the rate)",
        f"bulk onboarding (samspil import)       {results['onboarding']['citizens_per_s']:>10,.0f}"
        f" citizens/s ({results['onboarding']['citizens_per_s'] / p['commit_per_s_1_conn']:.2f}"
        " x raw commits/s on 1 connection)",
        "",
        "ratios:",
        f"  flow / raw produce                   {f['flow_per_s'] / b['produce_per_s']:>10.3f}",
        f"  flow / raw consume                   {f['flow_per_s'] / b['consume_per_s']:>10.3f}",
        f"  flow / raw commits (16 connections)  {f['flow_per_s'] / p['commit_per_s_16_conns']:>10.3f}",
        f"  ingest / raw commits (16 connections){f['ingest_per_s'] / p['commit_per_s_16_conns']:>10.3f}",
        f"  consumer / raw consume               {c['events_per_s'] / b['consume_per_s']:>10.3f}",
        f"  consumer / raw commits (1 connection){c['events_per_s'] / p['commit_per_s_1_conn']:>10.3f}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--idle-notices", type=int, default=30, help="one-at-a-time latency samples")
    parser.add_argument(
        "--backlog", type=int, default=3000, help="notices queued for the employment consumer to drain"
    )
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samspil-bench-") as folder:
        results = asyncio.run(measure(args, Path(folder)))
    print(report(results, args))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
