"""The jobcenter's clock: contact-course reminders and overdue follow-ups, progress reports due
soon and overdue, and the objection windows it holds. Every replica runs it; each alarm is still
announced once. A window is settled only once every command sent before it closed has been
handled (`samspil.runtime.handled_input`): an objection sent in time may still wait on the
command topic. Its retention worker purges the messaging tables past their retention."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

import asyncpg
import structlog

from employment.service_layer.course import announce_due_follow_ups
from employment.service_layer.messages import DANISH_TIME, danish_today
from employment.service_layer.progress_reports import announce_progress_reports
from employment.service_layer.protocol import settle_objection_windows
from employment.settings import EmploymentSettings
from samspil.runtime import retention
from samspil.runtime.handled_input import HandledInput
from samspil.runtime.metrics import scheduler_run

log = structlog.get_logger("employment.scheduler")


async def settle_windows(pool: asyncpg.Pool, today: date, commands: HandledInput) -> int:
    """Close the objection windows that ended before the commands sent up to now are handled."""
    handled = await commands.until()
    if handled is None:
        return 0
    return await settle_objection_windows(pool, min(today, handled.astimezone(DANISH_TIME).date()))


def worker(
    settings: EmploymentSettings, commands: HandledInput
) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    async def run(pool: asyncpg.Pool) -> None:
        rules = settings.course_rules()
        progress = settings.progress_rules()
        while True:
            try:
                with scheduler_run():
                    today = danish_today()
                    announced = await announce_due_follow_ups(pool, today, rules)
                    if announced:
                        log.info("follow-up alarms announced", count=announced)
                    reporting = await announce_progress_reports(pool, today, progress)
                    if reporting:
                        log.info("progress-report alarms announced", count=reporting)
                    settled = await settle_windows(pool, today, commands)
                    if settled:
                        log.info("social-plan decisions final without objection", count=settled)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be away; the next round tries again, and nothing was half-done.
                log.exception("contact-course scan failed")
            await asyncio.sleep(settings.contact_course_scan_seconds)

    return run


def retention_worker(settings: EmploymentSettings) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    """Purges inbox, outbox and dead-letter rows past their retention, in batches."""
    return retention.worker(settings)
