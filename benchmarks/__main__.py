"""Run the benchmarks once on fresh embedded infrastructure and print the figures, with the
targets and the ratios to the raw broker and PostgreSQL rates.

python -m benchmarks [--only raw,flow,latency,consumer,size] [--concurrency 32] [--messages 20000]
                     [--commits 3000] [--notices 2000] [--backlog 3000] [--rate 300] [--duration 60]
                     [--size-small 10000] [--size-large 1000000]

Sections (all by default, in this order): raw (broker and PostgreSQL alone), flow (closed-loop
first flow), latency (open loop at a steady rate), consumer (employment consumer draining a
backlog), size (the hot paths at two database sizes; it seeds the databases, so it runs last).
The services' peak resident memory is printed whenever the services ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import backlog, cpu, flow, latency, memory, raw, setup, size
from benchmarks.onboarding import onboarding
from benchmarks.relay import relay_backlog
from benchmarks.relay import report_line as relay_report_line
from samspil.local.broker import CLIENT_ENV, EmbeddedBroker
from samspil.local.postgres import EmbeddedPostgres
from samspil.local.runner import SERVICES, LocalStack, free_port

SECTIONS = ("raw", "relay", "onboarding", "flow", "latency", "consumer", "size")
# The sections that need the three services running.
STACK_SECTIONS = frozenset(SECTIONS) - {"raw", "relay", "onboarding"}


def progress(text: str) -> None:
    print(f"{text} ...", file=sys.stderr, flush=True)


async def measure(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    """Fill ``results`` section by section, so what was measured is kept should a later part fail."""
    wanted = args.only
    broker = EmbeddedBroker(free_port(), work / "broker.log")
    postgres = EmbeddedPostgres(work / "pgdata", free_port(), log_file=work / "postgres.log")
    broker.start()
    postgres.start()
    try:
        if "raw" in wanted:
            progress("raw broker")
            results["broker"] = await raw.raw_broker(broker.bootstrap_servers, args.messages)
            progress("raw PostgreSQL")
            results["postgres"] = await raw.raw_postgres(postgres.admin_dsn, args.commits)
        if "relay" in wanted:
            progress("outbox relay publishing a backlog")
            results["relay"] = await relay_backlog(
                postgres.ensure_service_database("bench_relay"), broker.bootstrap_servers, args.relay_rows
            )
        if "onboarding" in wanted:
            progress("bulk onboarding (samspil import)")
            results["onboarding"] = await onboarding(
                postgres.ensure_service_database("employment_onboarding"), args.onboarding_citizens
            )
        if not wanted & STACK_SECTIONS:
            return
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
            # The size section runs the overdue scan itself; the service's own must not meanwhile.
            "EMPLOYMENT_CONTACT_COURSE_SCAN_SECONDS": "86400",
        }
        for spec in SERVICES:
            env[f"{spec.env_prefix}DATABASE_URL"] = postgres.ensure_service_database(spec.database)
        stack = LocalStack(
            state_dir=work / "stack", env=env, service_ports={s.name: free_port() for s in SERVICES}
        )
        progress("starting the three service processes")
        stack.start(timeout=90)
        peaks = memory.PeakMemory()
        meter = cpu.CpuMeter(stack, broker.pid, postgres.data_dir)
        try:
            async with peaks.watching(stack):
                if "flow" in wanted:
                    progress("first flow, closed loop")
                    results["flow"] = await flow.first_flow(
                        stack, env, args.notices, args.concurrency, args.idle_notices, meter
                    )
                if "latency" in wanted:
                    progress(f"open loop, {args.rate:g} notices/s for {args.duration:g} s")
                    results["latency"] = await latency.open_loop(
                        stack, env, args.rate, args.duration, args.referrals, meter=meter
                    )
                if "consumer" in wanted:
                    progress("employment consumer draining a backlog")
                    peaks.sample(stack)  # the employment process is stopped and started again
                    results["consumer"] = await backlog.consumer_backlog(
                        stack, env, broker.bootstrap_servers, args.backlog
                    )
                if "size" in wanted:
                    progress(f"hot paths at {args.size_small:,} and {args.size_large:,} citizens")
                    results["size"] = {}
                    await size.cost_with_size(stack, env, args, results["size"])
        except BaseException:
            _print_log_tails(stack)
            raise
        finally:
            results["memory_mb"] = peaks.results()
            stack.stop()
    finally:
        postgres.stop()
        broker.stop()


def _print_log_tails(stack: LocalStack, lines: int = 30) -> None:
    """What each service said last, before the temporary folder with its log goes."""
    for log in sorted(stack.logs.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {log.name}", *tail, sep="\n", file=sys.stderr)


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}",
        f"settings: only={','.join(s for s in SECTIONS if s in args.only)} messages={args.messages} "
        f"commits={args.commits} notices={args.notices} concurrency={args.concurrency} "
        f"backlog={args.backlog} relay-rows={args.relay_rows} onboarding={args.onboarding_citizens} "
        f"rate={args.rate:g} duration={args.duration:g} "
        f"size={args.size_small},{args.size_large} size-notices={args.size_notices} "
        f"size-requests={args.size_requests} size-due={args.size_due}",
    ]
    if "broker" in results:
        lines += ["", *raw.report(results["broker"], results["postgres"])]
    if "relay" in results:
        lines += ["", relay_report_line(results["relay"]) + " (target 10,000 events/s)"]
    if "onboarding" in results:
        o = results["onboarding"]
        versus = (
            f", {o['citizens_per_s'] / results['postgres']['commit_per_s_1_conn']:.2f} x raw commits/s on"
            " 1 connection"
            if "postgres" in results
            else ""
        )
        lines.append(
            f"bulk onboarding (samspil import)       {o['citizens_per_s']:>10,.0f} citizens/s "
            f"({o['citizens']:,.0f} citizens with a job plan each in {o['seconds']:,.1f} s{versus};"
            " target 2,000)"
        )
    if "flow" in results:
        lines += ["", *flow.report(results["flow"], args.concurrency, results)]
    if "latency" in results:
        lines += ["", *latency.report(results["latency"], results)]
    if "consumer" in results:
        lines += ["", *backlog.report(results["consumer"], results)]
    if "size" in results:
        lines += ["", *size.report(results["size"])]
    if "memory_mb" in results:
        lines += ["", *memory.report(results["memory_mb"])]
    if setup.resent:
        lines += ["", f"requests sent again after the connection closed unanswered: {setup.resent}"]
    return "\n".join(lines)


def sections(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - set(SECTIONS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"choose from {', '.join(SECTIONS)}; not {', '.join(sorted(unknown))}"
        )
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", type=sections, default=frozenset(SECTIONS), help=f"comma list of {','.join(SECTIONS)}"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--messages", type=int, default=20000, help="raw broker records")
    parser.add_argument("--commits", type=int, default=3000, help="raw PostgreSQL commits")
    parser.add_argument("--notices", type=int, default=2000, help="closed-loop flow notices")
    parser.add_argument("--idle-notices", type=int, default=30, help="one-at-a-time latency samples")
    parser.add_argument(
        "--backlog", type=int, default=3000, help="notices queued for the employment consumer to drain"
    )
    parser.add_argument("--relay-rows", type=int, default=100_000, help="outbox rows the relay publishes")
    parser.add_argument(
        "--onboarding-citizens", type=int, default=20_000, help="citizens in the bulk onboarding file"
    )
    parser.add_argument("--rate", type=float, default=300, help="open loop: notices offered per second")
    parser.add_argument("--duration", type=float, default=60, help="open loop: seconds of offered load")
    parser.add_argument("--referrals", type=int, default=20, help="open loop: referrals (citizens) sent on")
    parser.add_argument("--size-small", type=int, default=10_000, help="citizens etc. at the small size")
    parser.add_argument("--size-large", type=int, default=1_000_000, help="citizens etc. at the large size")
    parser.add_argument("--size-notices", type=int, default=2000, help="notices posted at each size")
    parser.add_argument(
        "--size-requests", type=int, default=2000, help="task-list and feed requests at each size"
    )
    parser.add_argument(
        "--size-due", type=int, default=2000, help="courses due for the overdue scan at each size"
    )
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samspil-bench-") as folder:
        results: dict[str, Any] = {}
        try:
            asyncio.run(measure(args, Path(folder), results))
        finally:
            print(report(results, args))
            if args.json:
                print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
