"""Latency under a steady offered load, open loop: absence notices are sent on a fixed schedule
(``rate`` per second for ``duration`` seconds), each at its time whether or not the ones before
it were answered, so a slow answer cannot hold back the load (no coordinated omission).

Both latencies are measured from the time a notice was due to be sent, on the benchmark's
clock: POST -> 202 is when its answer arrived; POST -> task committed is the ``created_at`` of
the caseworker task the notice became (``clock_timestamp()`` in the employment database, on the
same machine and so the same clock, compared as wall-clock time). That is the whole path a
provider waits for, including any queueing in front of the gateway, which the gateway's own
``received_at`` (what the closed-loop flow uses) would leave out."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import asyncpg

from benchmarks import cpu, setup
from benchmarks.raw import row
from samspil.local.runner import LocalStack

ACCEPT_P99_TARGET_MS = 50
TASK_P99_TARGET_MS = 250


async def open_loop(
    stack: LocalStack,
    env: Mapping[str, str],
    rate: float,
    duration: float,
    referrals: int,
    senders: int = 256,
    meter: cpu.CpuMeter | None = None,
) -> dict[str, Any]:
    provider = f"bench-{uuid.uuid4().hex[:6]}"
    targets = await setup.refer_citizens(stack, env, provider, referrals, first_serial=1000)
    count = int(rate * duration)
    # Wall-clock time of a perf_counter reading, to compare with the database's timestamps.
    wall_offset = time.time() - time.perf_counter()
    due_at: dict[str, float] = {}  # submission id -> wall time it was due to be sent
    accept_ms: list[float] = []
    failures: list[str] = []
    lag_s = 0.0
    # The schedule puts each notice in a queue at its time; a fixed set of senders, each with
    # its own connection, takes them in order. A notice that waits for a free sender waits on
    # the clock (its latency counts from when it was due), as it would in front of a busy
    # server; the queue costs nothing per waiting notice, unlike a client's connection pool.
    due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    async with setup.notice_sender(stack, setup.provider_token(env, provider), senders) as gateway:

        async def sender() -> None:
            while (item := await due_queue.get()) is not None:
                index, due = item
                try:
                    submission_id = await setup.post_notice(
                        gateway, targets[index % len(targets)].referral_id
                    )
                except Exception as error:  # counted and shown; the schedule goes on
                    failures.append(f"{type(error).__name__}: {str(error)[:160]}")
                    continue
                accept_ms.append((time.perf_counter() - due) * 1000)
                due_at[submission_id] = due + wall_offset

        workers = [asyncio.create_task(sender()) for _ in range(senders)]
        before = meter.read() if meter is not None else None
        start = time.perf_counter() + 0.2
        for index in range(count):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag_s = max(lag_s, -delay)
            due_queue.put_nowait((index, due))
        for _ in workers:
            due_queue.put_nowait(None)
        await asyncio.gather(*workers)
        send_seconds = time.perf_counter() - start
        # Over the sending only: the pipeline keeps up at the offered rate, so what it still has
        # in hand at the end is a fraction of a second's notices.
        cpu_shares = cpu.per_notice(before, meter.read(), count) if meter and before else None

    employment_db = await asyncpg.connect(env["EMPLOYMENT_DATABASE_URL"])
    try:
        refs = [target.citizen_ref for target in targets]
        deadline = time.monotonic() + 300
        rows: list[asyncpg.Record] = []
        while time.monotonic() < deadline:
            rows = await employment_db.fetch(
                "SELECT details->>'submission_id' AS submission_id, created_at FROM caseworker_task"
                " WHERE citizen_ref = ANY($1::text[]) AND details->>'submission_id' = ANY($2::text[])",
                refs,
                list(due_at),
            )
            if len(rows) >= len(due_at):
                break
            await asyncio.sleep(0.5)
    finally:
        await employment_db.close()
    for kind, times in Counter(failures).most_common(5):
        print(f"open loop: {times} failed with {kind}", file=sys.stderr)
    task_ms = [(row["created_at"].timestamp() - due_at[row["submission_id"]]) * 1000 for row in rows]
    return {
        "offered_per_s": rate,
        "duration_s": duration,
        "sent": count,
        "send_seconds": send_seconds,
        "failed": len(failures),
        "tasks": len(rows),
        "schedule_lag_ms_max": lag_s * 1000,
        "accept_ms_p50": setup.quantile(accept_ms, 0.50),
        "accept_ms_p99": setup.quantile(accept_ms, 0.99),
        "accept_ms_max": max(accept_ms, default=float("nan")),
        "task_ms_p50": setup.quantile(task_ms, 0.50),
        "task_ms_p99": setup.quantile(task_ms, 0.99),
        "task_ms_max": max(task_ms, default=float("nan")),
        "cpu_ms_per_notice": cpu_shares,
    }


def _figures(lat: dict[str, float], name: str, target: float) -> str:
    p50, p99, top = lat[f"{name}_ms_p50"], lat[f"{name}_ms_p99"], lat[f"{name}_ms_max"]
    verdict = "met" if p99 <= target else "NOT met"
    return f"{p50:>7,.0f} / {p99:,.0f} ms   (target p99 <= {target:,.0f} ms: {verdict}; max {top:,.0f})"


def report(lat: dict[str, Any], results: dict[str, Any]) -> list[str]:
    lines = [
        f"open loop: {lat['offered_per_s']:,.0f} notices/s offered for {lat['duration_s']:,.0f} s "
        f"({lat['sent']:,.0f} sent, the last answered after {lat['send_seconds']:,.1f} s; schedule up to "
        f"{lat['schedule_lag_ms_max']:,.0f} ms late; {lat['failed']:,.0f} failed)",
        row("  POST -> 202 p50 / p99", _figures(lat, "accept", ACCEPT_P99_TARGET_MS)),
        row("  POST -> task committed p50 / p99", _figures(lat, "task", TASK_P99_TARGET_MS)),
    ]
    if lat.get("cpu_ms_per_notice"):
        lines += cpu.report("open loop", lat["cpu_ms_per_notice"])
    if lat["tasks"] < lat["sent"] - lat["failed"]:
        lines.append(f"  only {lat['tasks']:,.0f} tasks committed within 300 s after the last send")
    return lines
