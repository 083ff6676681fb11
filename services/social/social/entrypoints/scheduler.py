"""The social department's clock: objection and ruling deadlines and consents that run out,
checked by every replica; and its retention worker, which purges the messaging tables past their
retention. An objection window is settled only once every command sent before it closed has been
handled (`samspil.runtime.handled_input`): an objection sent in time may still wait on the
command topic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

import asyncpg
import structlog

from samspil.runtime import retention
from samspil.runtime.handled_input import HandledInput
from samspil.runtime.metrics import scheduler_run
from social.service_layer.consents import expire_consents
from social.service_layer.messages import DANISH_TIME, danish_today
from social.service_layer.protocol import settle_deadlines
from social.settings import SocialSettings

log = structlog.get_logger("social.scheduler")


def worker(
    settings: SocialSettings, commands: HandledInput
) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    async def run(pool: asyncpg.Pool) -> None:
        while True:
            try:
                with scheduler_run():
                    today = danish_today()
                    handled = await commands.until()
                    # Unknown yet: no window closes (the ruling deadlines still count).
                    handled_on = date.min if handled is None else handled.astimezone(DANISH_TIME).date()
                    await settle_deadlines(pool, today, objections_handled_on=handled_on)
                    await expire_consents(pool, today, settings.social_plan_share_statute)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline scan failed")
            await asyncio.sleep(settings.deadline_scan_seconds)

    return run


def retention_worker(settings: SocialSettings) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    """Purges inbox, outbox and dead-letter rows past their retention, in batches."""
    return retention.worker(settings)
