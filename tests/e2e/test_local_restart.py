"""Restarting the local all-in-one stack loses nothing, although the embedded broker forgets
every topic: an event published but not yet consumed when the stack stopped is delivered after
the restart, once. A service that dies under a running stack is started again."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import asyncpg
import pytest

from samspil.local.runner import SERVICES, LocalStack, free_port
from samspil.local.supervisor import RestartPolicy, Supervisor
from samspil.runtime.audit import protection_status
from samspil.runtime.outbox import add_event
from tests.support import absence_notice, wait_for

pytestmark = pytest.mark.e2e


def fresh_stack(state_dir: Path) -> LocalStack:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "KAFKA_BOOTSTRAP_SERVERS" and not key.endswith("_DATABASE_URL")
    }
    return LocalStack(
        state_dir=state_dir,
        env=env,
        broker_port=free_port(),
        postgres_port=free_port(),
        service_ports={spec.name: free_port() for spec in SERVICES},
    )


async def test_restarting_the_local_stack_loses_no_event(server_dir: Path) -> None:
    stack = fresh_stack(server_dir)
    stack.start(timeout=90)
    service_processes = list(stack.processes.values())
    try:
        gateway_url, employment_url = (
            stack.database_urls["provider-gateway"],
            stack.database_urls["employment"],
        )
        # The jobcenter is down; the gateway publishes a notice nobody consumes before the stop.
        stack.stop_service("employment")
        envelope, notice = absence_notice()
        gateway = await asyncpg.connect(gateway_url)
        try:
            async with gateway.transaction():
                await add_event(gateway, envelope, notice)

            async def published() -> bool:
                return bool(
                    await gateway.fetchval(
                        "SELECT published_at IS NOT NULL FROM outbox WHERE event_id = $1", str(envelope.id)
                    )
                )

            await wait_for(published)
        finally:
            await gateway.close()
    finally:
        stack.stop()
    # Nothing is left behind: every service process has exited and the broker port is free.
    assert len(service_processes) == 3
    assert all(process.poll() is not None for process in service_processes)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", stack.broker_port)) != 0

    restarted = fresh_stack(server_dir)
    restarted.broker_port, restarted.postgres_port = stack.broker_port, stack.postgres_port
    restarted.start(timeout=90)
    try:
        employment = await asyncpg.connect(employment_url)
        try:

            async def tasks() -> int:
                count: int = await employment.fetchval(
                    "SELECT count(*) FROM caseworker_task WHERE source_event_id = $1", envelope.id
                )
                return count

            await wait_for(tasks, timeout=60)
            assert await tasks() == 1
            # The runner handed the audit tables to their own owner, and does so again at each start.
            assert await protection_status(employment) == "ok"
        finally:
            await employment.close()
    finally:
        restarted.stop()


def test_a_killed_service_is_restarted_and_ready_again_while_the_stack_runs(server_dir: Path) -> None:
    stack = fresh_stack(server_dir)
    became_ready: list[str] = []
    stack.start(timeout=90, on_ready=became_ready.append)
    assert sorted(became_ready) == sorted(spec.name for spec in SERVICES)
    reported: list[str] = []
    supervisor = Supervisor(stack, report=reported.append, policy=RestartPolicy(first_delay=0.2))
    try:
        crashed = stack.processes["employment"]
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait()
        deadline = time.monotonic() + 90
        while not any("employment is ready again" in line for line in reported):
            assert time.monotonic() < deadline, reported
            supervisor.supervise_once()
            time.sleep(0.2)
        restarted = stack.processes["employment"]
        assert restarted.pid != crashed.pid and restarted.poll() is None
        assert stack.is_ready("employment")
        assert reported == [
            f"employment exited with code {-signal.SIGKILL}; restarting in 0.2 s",
            "employment restarted (restart 1)",
            "employment is ready again (restart 1)",
        ]
        # The other services ran on untouched.
        assert supervisor.restarts("provider-gateway") == supervisor.restarts("social") == 0
    finally:
        service_processes = list(stack.processes.values())
        stack.stop()
    # Ctrl-C's stop leaves nothing behind, the restarted process included.
    assert len(service_processes) == 3
    assert all(process.poll() is not None for process in service_processes)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", stack.broker_port)) != 0


async def test_stopping_with_the_broker_gone_ends_within_the_stop_timeout_and_keeps_the_outbox(
    server_dir: Path,
) -> None:
    stack = fresh_stack(server_dir)
    stack.env = {**stack.env, "PROVIDER_GATEWAY_STOP_TIMEOUT_SECONDS": "2"}
    stack.start(timeout=90)
    service_processes = dict(stack.processes)
    gateway_url = stack.database_urls["provider-gateway"]
    try:
        assert stack.broker is not None
        stack.broker.stop()
        # Written once the broker is gone: the gateway's relay holds it until the broker answers.
        envelope, notice = absence_notice()
        gateway = await asyncpg.connect(gateway_url)
        try:
            async with gateway.transaction():
                await add_event(gateway, envelope, notice)

            async def broker_missed() -> bool:
                log = (stack.logs / "provider-gateway.log").read_text()
                return "broker unreachable, still trying" in log

            await wait_for(broker_missed, timeout=60)
            for spec in SERVICES:
                stack.stop_service(spec.name, timeout=120)
            # What the broker never took is still pending, for the next start to publish.
            assert await gateway.fetchval(
                "SELECT published_at IS NULL FROM outbox WHERE event_id = $1", str(envelope.id)
            )
        finally:
            await gateway.close()
    finally:
        stack.stop()
    # Each service stopped by itself on SIGTERM (uvicorn ends by re-raising it), none was killed,
    # and the gateway gave up waiting for the broker at its own stop timeout.
    assert {name: process.returncode for name, process in service_processes.items()} == {
        spec.name: -signal.SIGTERM for spec in SERVICES
    }
    gateway_log = (stack.logs / "provider-gateway.log").read_text()
    assert "stop timeout reached" in gateway_log  # without the bound it would wait for the broker


def test_a_stack_that_cannot_start_leaves_nothing_running(server_dir: Path) -> None:
    """One service exits at start (its settings refused): the start fails, and the broker,
    PostgreSQL and the services that did start are stopped with it, not left to the caller."""
    stack = fresh_stack(server_dir)
    stack.env = {**stack.env, "EMPLOYMENT_DEAD_LETTER_KEY": "too short"}
    with pytest.raises(RuntimeError, match="employment exited"):
        stack.start(timeout=90)
    assert stack.processes == {}
    for port in (stack.broker_port, stack.postgres_port, *stack.service_ports.values()):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
