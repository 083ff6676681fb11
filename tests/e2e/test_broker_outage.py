"""A service started while the broker is away: it serves its API, says in its readiness what it
waits for, keeps trying (one log line per interval with the count of failed attempts, not the
Kafka libraries' lines many times a second), connects once the broker is there, and stops at
once when told to while it waits."""

from __future__ import annotations

import itertools
import json
import os
import signal
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from samspil.local.broker import CLIENT_ENV, EmbeddedBroker
from samspil.local.runner import SERVICES, LocalStack, free_port
from tests.e2e.test_local_restart import fresh_stack
from tests.infra import Infra
from tests.support import wait_for

pytestmark = pytest.mark.e2e

OUTAGE_LOG_SECONDS = 2


def stack_without_broker(infra: Infra, state_dir: Path, broker_port: int) -> LocalStack:
    env = {
        **{key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")},
        **CLIENT_ENV,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker_port}",
        "SAMSPIL_BROKER_OUTAGE_LOG_SECONDS": str(OUTAGE_LOG_SECONDS),
        "SAMSPIL_BROKER_CHECK_SECONDS": "1",
    }
    for spec in SERVICES:
        env[f"{spec.env_prefix}DATABASE_URL"] = infra.create_service_database(spec.database)
    stack = LocalStack(
        state_dir=state_dir, env=env, service_ports={spec.name: free_port() for spec in SERVICES}
    )
    stack.start_infrastructure()
    return stack


def readiness(stack: LocalStack, service: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(stack.url(service) + "/readyz", timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def log_lines(stack: LocalStack, service: str) -> list[dict[str, Any]]:
    lines = []
    for line in (stack.logs / f"{service}.log").read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            lines.append({"event": line, "logger": "unstructured"})
    return lines


def outage_lines(stack: LocalStack, service: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(stack, service) if line["event"] == "broker unreachable, still trying"]


async def test_a_service_started_without_a_broker_keeps_trying_quietly_and_stops_at_once(
    infra: Infra, tmp_path: Path
) -> None:
    stack = stack_without_broker(infra, tmp_path, free_port())
    stack.start_service("social")
    process = stack.processes["social"]
    try:
        # It serves, and its readiness names what it waits for.
        async def waiting_for_the_broker() -> bool:
            status, body = readiness(stack, "social")
            return status == 503 and body["checks"]["broker"].startswith("failing")

        await wait_for(waiting_for_the_broker, timeout=60)

        async def three_outage_lines() -> bool:
            return len(outage_lines(stack, "social")) >= 3

        await wait_for(three_outage_lines, timeout=60)
        assert process.poll() is None
        lines = outage_lines(stack, "social")
        attempts = [line["failed_attempts"] for line in lines]
        assert attempts == sorted(attempts) and attempts[-1] > len(lines), attempts
        # One line per interval, not one per attempt.
        stamps = [datetime.fromisoformat(line["timestamp"]) for line in lines]
        assert all(
            (later - earlier).total_seconds() >= OUTAGE_LOG_SECONDS - 0.5
            for earlier, later in itertools.pairwise(stamps)
        ), stamps
        # The Kafka libraries' own complaints: each kind at most once per interval.
        library = [
            line for line in log_lines(stack, "social") if str(line.get("logger", "")).startswith("aiokafka")
        ]
        kinds = {str(line["event"]).split(":")[0] for line in library}
        assert len(library) <= len(kinds) * (len(lines) + 1), [line["event"] for line in library]

        process.send_signal(signal.SIGTERM)
        # Held in its start-up until the broker came (it never does here), it would not end at all.
        code = process.wait(timeout=30)
    finally:
        stack.stop()
    assert code == -signal.SIGTERM


async def test_a_service_started_without_a_broker_connects_when_the_broker_comes(
    infra: Infra, tmp_path: Path
) -> None:
    broker_port = free_port()
    stack = stack_without_broker(infra, tmp_path, broker_port)
    stack.start_service("social")
    broker = EmbeddedBroker(broker_port, tmp_path / "broker.log")
    try:

        async def trying() -> bool:
            return len(outage_lines(stack, "social")) >= 1

        await wait_for(trying, timeout=60)
        broker.start()

        async def ready() -> bool:
            return readiness(stack, "social")[0] == 200

        await wait_for(ready, timeout=60)
        events = [line["event"] for line in log_lines(stack, "social")]
        assert "broker reachable again" in events
        assert "broker connected" in events
        stack.stop_service("social", timeout=30)
    finally:
        stack.stop()
        broker.stop()


async def test_services_whose_broker_goes_away_say_so_once_per_interval(server_dir: Path) -> None:
    stack = fresh_stack(server_dir)
    stack.env = {**stack.env, "SAMSPIL_BROKER_OUTAGE_LOG_SECONDS": str(OUTAGE_LOG_SECONDS)}
    stack.start(timeout=90)
    try:
        assert stack.broker is not None
        before = {spec.name: len(log_lines(stack, spec.name)) for spec in SERVICES}
        stack.broker.stop()

        async def three_outage_lines_each() -> bool:
            return all(len(outage_lines(stack, spec.name)) >= 3 for spec in SERVICES)

        await wait_for(three_outage_lines_each, timeout=60)
        for spec in SERVICES:
            assert stack.processes[spec.name].poll() is None
            during = log_lines(stack, spec.name)[before[spec.name] :]
            intervals = len(outage_lines(stack, spec.name))
            # Each kind of complaint at most once per interval, a handful of kinds: not the
            # Kafka libraries' lines many times a second.
            assert len(during) <= 8 * (intervals + 1), [line["event"] for line in during]
    finally:
        stack.stop()
