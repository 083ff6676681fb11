"""Connections kept for the one statement that records a report (`repository.record_report_at_once`).

A pool's connection is reset when it goes back (advisory locks, cursors, LISTEN and settings of
whoever had it), and that is a round trip of its own: as many as the report itself. These
connections only ever run that one statement in its own implicit transaction, which leaves
nothing in the session to reset, so they go back without it. Nothing else may use them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("provider_gateway.report_connections")


async def _nothing_to_reset(_: asyncpg.Connection) -> None:
    """asyncpg has cleared the connection's listeners and rolled back any transaction first."""


class ReportConnections:
    """``pool`` is None until they are open (reports then use the service's pool)."""

    def __init__(self, database_url: str, size: int, **pool_options: Any) -> None:
        self._database_url = database_url
        self._size = size
        self._pool_options = pool_options
        self.pool: asyncpg.Pool | None = None
        self.opened = asyncio.Event()

    async def keep_open(self, _: asyncpg.Pool) -> None:
        """A worker of the service's runtime: open them at start, close them at stop."""
        try:
            pool = await asyncpg.create_pool(
                self._database_url,
                min_size=1,
                max_size=self._size,
                reset=_nothing_to_reset,
                **self._pool_options,
            )
        except Exception as error:  # the service's own pool just opened: reports use that one
            log.warning("report connections not opened, reports use the pool", error=type(error).__name__)
            await asyncio.Event().wait()
            return
        self.pool = pool
        self.opened.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.pool = None
            await pool.close()
