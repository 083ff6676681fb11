"""A consumer process killed in the middle of a handler leaves the message to be processed once
after it restarts: the handler's transaction never committed, and neither did the offset."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from samspil.runtime.kafka import ensure_topics
from schemas.topics import Topic, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import EFFECT_TABLE, on_topic
from tests.support import encoded_notice, produce, wait_for


async def committed_offset(infra: Infra, group: str, topic: Topic, partition: int) -> int | None:
    """The group's committed offset, asked without joining the group (an OffsetFetch)."""
    probe = AIOKafkaConsumer(
        bootstrap_servers=infra.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        offset = await probe.committed(TopicPartition(topic.name, partition))
    finally:
        await probe.stop()
    return None if offset is None else int(offset)


def start_consumer(
    infra: Infra,
    topic: Topic,
    name: str,
    mode: str,
    marker: Path,
    database_url: str,
    target: uuid.UUID,
    log: Path,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        **infra.client_env,
        "REPORTS_TOPIC": topic.name,
        "TARGET_EVENT_ID": str(target),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.consumer_process", name, mode, str(marker)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_consumer_killed_mid_handler_processes_the_message_once_after_restart(
    infra: Infra, own_reports_topic: Topic, tmp_path: Path
) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.bootstrap_servers, [dead_letter_topic(name)])
    database_url = infra.create_database()
    conn = await asyncpg.connect(database_url)
    await conn.execute(EFFECT_TABLE)

    envelope, record = encoded_notice()
    [(partition, offset)] = await produce(infra.bootstrap_servers, *on_topic(own_reports_topic, record))
    marker = tmp_path / "in-handler"
    log = tmp_path / "consumer.log"

    first = start_consumer(infra, own_reports_topic, name, "stall", marker, database_url, envelope.id, log)
    try:
        await wait_for(lambda: asyncio.to_thread(marker.exists), timeout=60)
        # Stall past aiokafka's 5 s auto-commit interval, so a consumer that acknowledged
        # before processing would have committed by now; ours must not have.
        await asyncio.sleep(6)
        committed = await committed_offset(infra, f"samspil-{name}", own_reports_topic, partition)
        assert committed is None or committed <= offset, (
            f"committed {committed} past the stalled record {offset}"
        )
        first.kill()
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    # The handler had written its effect, but inside a transaction that died with the process.
    assert await conn.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", envelope.id) == 0

    second = start_consumer(infra, own_reports_topic, name, "normal", marker, database_url, envelope.id, log)
    try:

        async def processed() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", envelope.id))

        await wait_for(processed, timeout=90)
        # Let it run on a little, so a second processing would show.
        await asyncio.sleep(2)
        assert await conn.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", envelope.id) == 1
    finally:
        second.terminate()
        second.wait(30)
        await conn.close()
    assert second.returncode == 0, log.read_text()[-3000:]
