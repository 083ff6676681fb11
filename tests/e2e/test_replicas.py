"""`--replicas 2`: two instances of each department service share the work (one consumer group,
one outbox relay publishing at a time), and killing one of them under load, the one whose
relay publishes, loses and doubles nothing: the other takes over its partitions and its relay,
and the supervisor starts the killed one again."""

from __future__ import annotations

import asyncio
import os
import signal
import urllib.request
import uuid
from pathlib import Path

import asyncpg
import pytest

from samspil.local.runner import LocalStack
from samspil.local.supervisor import RestartPolicy, Supervisor
from tests.e2e.test_local_restart import fresh_stack
from tests.support import samples, value, wait_for, write_absence_notices

pytestmark = pytest.mark.e2e

NOTICES = 150


def is_relay_leader(stack: LocalStack, instance: str) -> bool:
    with urllib.request.urlopen(stack.metrics_url(instance), timeout=5) as response:  # noqa: S310
        page = samples(response.read().decode())
    return value(page, "samspil_outbox_relay_leader", service="employment") == 1


def handled_here(stack: LocalStack, instance: str) -> int:
    """Lines saying the instance handled events: one per batch, or per event on its own path."""
    text = (stack.logs / f"{instance}.log").read_text()
    return text.count('"batch handled"') + text.count('"event processed"')


async def test_one_of_two_replicas_killed_under_load_loses_and_doubles_nothing(server_dir: Path) -> None:
    stack = fresh_stack(server_dir)
    stack.replicas = 2
    ready: list[str] = []
    stack.start(timeout=120, on_ready=ready.append)
    reported: list[str] = []
    supervisor = Supervisor(stack, report=reported.append, policy=RestartPolicy(first_delay=0.5))

    async def supervise() -> None:
        while True:
            await asyncio.to_thread(supervisor.supervise_once)
            await asyncio.sleep(0.3)

    supervising = asyncio.create_task(supervise())
    employment = await asyncpg.connect(stack.database_urls["employment"])
    try:
        assert sorted(ready) == ["employment", "employment-2", "provider-gateway", "social", "social-2"]
        assert stack.port("employment") != stack.port("employment-2")
        writing = asyncio.create_task(
            write_absence_notices(stack.database_urls["provider-gateway"], NOTICES, pause=0.03)
        )

        async def both_replicas_working() -> bool:
            return handled_here(stack, "employment") > 0 and handled_here(stack, "employment-2") > 0

        await wait_for(both_replicas_working, timeout=60)
        leaders = [name for name in ("employment", "employment-2") if is_relay_leader(stack, name)]
        assert len(leaders) == 1, leaders
        # Under load, the replica whose relay publishes dies as a crash would.
        killed = stack.processes[leaders[0]]
        os.kill(killed.pid, signal.SIGKILL)
        ids = await writing
        assert len(ids) == NOTICES

        async def tasks_per_event() -> dict[uuid.UUID, int]:
            rows = await employment.fetch(
                "SELECT source_event_id, count(*) AS n FROM caseworker_task"
                " WHERE source_event_id = ANY($1::uuid[]) GROUP BY source_event_id",
                ids,
            )
            return {row["source_event_id"]: row["n"] for row in rows}

        async def all_handled() -> bool:
            return len(await tasks_per_event()) == NOTICES

        await wait_for(all_handled, timeout=90)
        # Each notice had its effect once, none was lost or doubled.
        assert await tasks_per_event() == dict.fromkeys(ids, 1)

        # What the jobcenter published in answer all went out: the other replica's relay took
        # over (and the killed one came back).
        async def outbox_drained() -> bool:
            return not await employment.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

        await wait_for(outbox_drained, timeout=60)
        assert f"{leaders[0]} exited with code {-signal.SIGKILL}; restarting in 0.5 s" in reported
    finally:
        supervising.cancel()
        await employment.close()
        stack.stop()
