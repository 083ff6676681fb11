"""The embedded broker crashing under running services: the runner's supervisor starts it again
on its port, and it comes back empty (memory only), with a new cluster id. The services notice
while they run: they create the topics again, the outboxes publish their retained events again
and the consumers read from the beginning, so an event the old broker held unread still has its
effect, once, and nothing handled before is handled twice."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import asyncpg
import pytest

from samspil.local.supervisor import RestartPolicy, Supervisor
from tests.e2e.test_local_restart import fresh_stack
from tests.support import wait_for, write_absence_notices

pytestmark = pytest.mark.e2e


async def published(gateway_url: str, ids: list[uuid.UUID]) -> bool:
    gateway = await asyncpg.connect(gateway_url)
    try:
        pending: int = await gateway.fetchval(
            "SELECT count(*) FROM outbox WHERE event_id = ANY($1::text[]) AND published_at IS NULL",
            [str(event_id) for event_id in ids],
        )
    finally:
        await gateway.close()
    return pending == 0


async def tasks_per_event(employment_url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    employment = await asyncpg.connect(employment_url)
    try:
        rows = await employment.fetch(
            "SELECT source_event_id, count(*) AS n FROM caseworker_task"
            " WHERE source_event_id = ANY($1::uuid[]) GROUP BY source_event_id",
            ids,
        )
    finally:
        await employment.close()
    return {row["source_event_id"]: row["n"] for row in rows}


async def test_a_broker_restarted_under_running_services_loses_nothing_it_held_unread(
    server_dir: Path,
) -> None:
    stack = fresh_stack(server_dir)
    stack.env = {**stack.env, "SAMSPIL_BROKER_CHECK_SECONDS": "1"}
    stack.start(timeout=90)
    reported: list[str] = []
    supervisor = Supervisor(stack, report=reported.append, policy=RestartPolicy(first_delay=0.2))
    try:
        assert stack.broker is not None
        gateway_url, employment_url = (
            stack.database_urls["provider-gateway"],
            stack.database_urls["employment"],
        )
        # Work goes through before the restart.
        before = await write_absence_notices(gateway_url, 5)

        async def before_handled() -> bool:
            return len(await tasks_per_event(employment_url, before)) == len(before)

        await wait_for(before_handled, timeout=60)

        # The jobcenter stalls (still running, its consumer holding its place in the group), so
        # the broker holds these unread when it goes.
        employment = stack.processes["employment"]
        os.kill(employment.pid, signal.SIGSTOP)
        try:
            unread = await write_absence_notices(gateway_url, 5)
            await wait_for(lambda: published(gateway_url, unread), timeout=60)
            # The broker crashes; the runner's supervisor starts it again on its port, empty.
            old_cluster, broker_pid = stack.broker.cluster_id, stack.broker.pid
            assert broker_pid is not None
            os.kill(broker_pid, signal.SIGKILL)

            async def broker_back() -> bool:
                await asyncio.to_thread(supervisor.supervise_once)
                return "broker is ready again (restart 1)" in reported

            await wait_for(broker_back, timeout=60)
            assert stack.broker.cluster_id != old_cluster
        finally:
            os.kill(employment.pid, signal.SIGCONT)

        # More work, into the new broker, while the services find out.
        after = await write_absence_notices(gateway_url, 5)
        everything = before + unread + after

        async def all_handled() -> bool:
            return len(await tasks_per_event(employment_url, everything)) == len(everything)

        await wait_for(all_handled, timeout=90)
        # Every event had its effect exactly once: the republished ones the jobcenter had
        # handled before were recognised by its inbox.
        assert await tasks_per_event(employment_url, everything) == dict.fromkeys(everything, 1)
        # The services noticed while they ran; none was restarted.
        supervisor.supervise_once()
        assert reported == [
            f"broker exited with code {-signal.SIGKILL}; restarting in 0.2 s",
            "broker restarted (restart 1)",
            "broker is ready again (restart 1)",
        ]
        assert stack.dead_services() == []
        assert employment.poll() is None
        gateway_log = (stack.logs / "provider-gateway.log").read_text()
        assert "the broker was replaced, publishing retained events again" in gateway_log

        # The jobcenter's broker watch says so within a check interval of going on; its consumer,
        # which rejoins the new broker beside it, may have handled everything first.
        async def employment_noticed() -> bool:
            log = (stack.logs / "employment.log").read_text()
            return "the broker was replaced (its cluster id changed)" in log

        await wait_for(employment_noticed, timeout=30)
    finally:
        stack.stop()
