"""A consumer process for the kill tests: it reads the reports topic named by REPORTS_TOPIC (the
test's own), records an effect per absence notice and, in ``stall`` mode, then stalls inside the
handler's open transaction until it is killed, having written to the marker file which of the
watched events it handled before."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Any

from samspil.runtime.db import Connection
from samspil.runtime.logging import configure_logging
from samspil.runtime.service import ServiceRuntime, Subscription
from samspil.runtime.settings import RuntimeSettings
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.topics import PROVIDER_REPORTS


async def main(name: str, mode: str, marker: Path) -> None:
    # The events whose handling the test follows.
    watched = set(os.environ.get("WATCHED_EVENT_IDS", "").split(","))
    handled: list[str] = []

    async def handler(conn: Connection, envelope: Envelope, _: Any) -> None:
        await conn.execute(
            "INSERT INTO effect (event_id, citizen_ref) VALUES ($1, $2)", envelope.id, envelope.subject
        )
        if str(envelope.id) in watched:
            handled.append(str(envelope.id))
        if mode == "stall" and str(envelope.id) == os.environ["TARGET_EVENT_ID"]:
            # Which watched events this process has handled so far (their transactions open or not),
            # written whole before the marker appears: the test reads it as soon as it exists.
            written = marker.with_suffix(".writing")
            await asyncio.to_thread(written.write_text, ",".join(handled))
            await asyncio.to_thread(written.replace, marker)
            await asyncio.sleep(3600)

    topic = dataclasses.replace(PROVIDER_REPORTS, name=os.environ["REPORTS_TOPIC"])
    runtime = ServiceRuntime(
        name=name,
        settings=RuntimeSettings(
            database_url=os.environ["DATABASE_URL"], kafka_create_topics=False, dead_letter_key="k" * 32
        ),
        migration_packages=[],
        subscription=Subscription(topics=[topic], handlers={AbsenceNoticeSubmitted: handler}),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with runtime.running():
        await stop.wait()


if __name__ == "__main__":
    configure_logging("test-consumer", "json")
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
