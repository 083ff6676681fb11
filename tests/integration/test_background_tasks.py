"""The runtime's own background tasks (reaching the broker, watching it) never die unseen, and
a service stopped while it is connecting leaves no started producer behind."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from samspil.runtime.kafka import KafkaSender
from samspil.runtime.service import ServiceRuntime
from tests.infra import Infra
from tests.integration.conftest import runtime_settings
from tests.support import wait_for


def bare_runtime(infra: Infra) -> ServiceRuntime:
    return ServiceRuntime(
        name=f"test-bg-{asyncio.get_running_loop().time():.0f}",
        settings=runtime_settings(infra, infra.create_database()),
        migration_packages=[],
    )


async def test_a_connect_task_that_fails_is_logged_and_named_by_readiness(infra: Infra) -> None:
    runtime = bare_runtime(infra)

    async def broken() -> None:
        raise RuntimeError("the topic check broke")

    runtime._warn_of_missing_topics = broken  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs:
        async with runtime.running():

            async def named() -> dict[str, str] | None:
                checks = await runtime.readiness()
                return checks if "broker-connect" in checks else None

            checks = await wait_for(named)
    assert checks["broker-connect"] == "failing: stopped (RuntimeError)"
    assert checks["outbox-relay"] == "failing: waiting for the broker"
    [line] = [entry for entry in logs if entry["event"] == "background task stopped"]
    assert line["log_level"] == "error"
    assert line["task"] == "broker-connect"
    assert line["error"] == "RuntimeError"
    assert line["detail"] == "the topic check broke"


async def test_a_service_stopped_while_connecting_stops_the_producer_it_started(infra: Infra) -> None:
    runtime = bare_runtime(infra)
    senders: list[KafkaSender] = []
    asked = asyncio.Event()
    build = runtime.sender

    def sender() -> KafkaSender:
        made = build()

        async def never_answers() -> Any:
            asked.set()  # the producer has started
            await asyncio.Event().wait()

        made.cluster_id = never_answers  # type: ignore[method-assign]
        senders.append(made)
        return made

    runtime.sender = sender  # type: ignore[method-assign]
    await runtime.start()
    try:
        await asyncio.wait_for(asked.wait(), timeout=30)
    finally:
        await runtime.stop()
    [started] = senders
    assert started._producer._closed is True
