"""The first flow, closed loop: a provider's absence notices through the gateway until the
employment service has committed a caseworker task for each, all for one referral. Idle latency
first (one notice at a time), then ``notices`` sent by ``concurrency`` clients, each sending
its next notice when the previous one was answered."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from benchmarks import cpu, setup
from benchmarks.raw import ratio, row
from samspil.local.runner import LocalStack

PG16 = "commit_per_s_16_conns"


async def first_flow(
    stack: LocalStack,
    env: Mapping[str, str],
    notices: int,
    concurrency: int,
    idle_notices: int,
    meter: cpu.CpuMeter | None = None,
) -> dict[str, Any]:
    provider = f"bench-{uuid.uuid4().hex[:6]}"
    # A made-up CPR number (born 1 January 1970); the service answers with its pseudonym.
    (referral,) = await setup.refer_citizens(stack, env, provider, 1, first_serial=123)
    subject, referral_id = referral.citizen_ref, referral.referral_id
    gateway_db = await asyncpg.connect(env["PROVIDER_GATEWAY_DATABASE_URL"])
    employment_db = await asyncpg.connect(env["EMPLOYMENT_DATABASE_URL"])

    async def tasks_for(citizen: str) -> int:
        count: int = await employment_db.fetchval(
            "SELECT count(*) FROM caseworker_task WHERE citizen_ref = $1", citizen
        )
        return count

    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(notices):
        queue.put_nowait(index)
    async with setup.notice_sender(stack, setup.provider_token(env, provider), concurrency) as gateway:
        ingest_ms: list[float] = []

        async def post_notices() -> None:
            while not queue.empty():
                queue.get_nowait()
                sent = time.perf_counter()
                await setup.post_notice(gateway, referral_id)
                ingest_ms.append((time.perf_counter() - sent) * 1000)

        # Idle latency first: one notice at a time, each waited for until its task exists.
        idle: list[float] = []
        for done in range(1, idle_notices + 1):
            sent = time.perf_counter()
            await setup.post_notice(gateway, referral_id)
            while await tasks_for(subject) < done:
                await asyncio.sleep(0.002)
            idle.append((time.perf_counter() - sent) * 1000)

        before = meter.read() if meter is not None else None
        started = time.perf_counter()
        await asyncio.gather(*(post_notices() for _ in range(concurrency)))
        ingest_seconds = time.perf_counter() - started

    while await tasks_for(subject) < notices + idle_notices:
        await asyncio.sleep(0.1)
    cpu_shares = cpu.per_notice(before, meter.read(), notices) if meter and before else None
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
        "cpu_ms_per_notice": cpu_shares,
    }


def report(f: dict[str, Any], concurrency: int, results: dict[str, Any]) -> list[str]:
    shares = f.get("cpu_ms_per_notice")
    return [
        f"gateway ingest (POST -> 202)           {f['ingest_per_s']:>10,.0f} notices/s   (target 1,500)",
        f"gateway ingest latency p50/95/99       {f['ingest_ms_p50']:>7,.0f} / {f['ingest_ms_p95']:,.0f} / "
        f"{f['ingest_ms_p99']:,.0f} ms ({concurrency} clients)",
        f"first flow (POST -> task committed)    {f['flow_per_s']:>10,.0f} notices/s   (target 1,000)",
        f"first flow latency, idle, p50 / max    {f['idle_latency_ms_p50']:>7,.0f} / "
        f"{f['idle_latency_ms_max']:,.0f} ms (one notice at a time, POST sent -> task visible)",
        f"first flow latency under load p50/95/99{f['latency_ms_p50']:>7,.0f} / {f['latency_ms_p95']:,.0f} / "
        f"{f['latency_ms_p99']:,.0f} ms (max {f['latency_ms_max']:,.0f};"
        " submission received -> task committed)",
        row("  flow / raw produce", ratio(f["flow_per_s"], results, "broker", "produce_per_s")),
        row("  flow / raw consume", ratio(f["flow_per_s"], results, "broker", "consume_per_s")),
        row("  flow / raw commits (16 connections)", ratio(f["flow_per_s"], results, "postgres", PG16)),
        row("  ingest / raw commits (16 connections)", ratio(f["ingest_per_s"], results, "postgres", PG16)),
        *(cpu.report("closed loop", shares) if shares else []),
    ]
