"""Bulk onboarding from a CSV file (`samspil import`): the rows (csv_rows.py) are onboarded
set-wise a chunk at a time, one transaction per chunk; a bad row is refused with its line number
and the reason and the rest go on. The file's run is kept in the database under the SHA-256 of
its bytes, with the last line committed, so running the same file again continues where it
stopped, and once finished does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from employment.adapters import onboarding as runs
from employment.domain.actor import Actor
from employment.enrolment_settings import EnrolmentSettings
from employment.entrypoints.csv_format import DEFAULT_CHUNK_ROWS, BadFile, Columns
from employment.entrypoints.csv_rows import Refusal, RowReader, file_digest, records
from employment.service_layer.onboarding import OnboardCitizen, OnboardingContext, Outcome, onboard
from samspil.runtime.db import Connection
from schemas.cpr import mask_cpr_numbers

__all__ = ["ImportResult", "Progress", "Refusal", "import_file"]


@dataclass
class Progress:
    """Where the import is, after each committed chunk."""

    line: int
    total_lines: int
    rows_this_run: int
    seconds: float


@dataclass(frozen=True)
class ImportResult:
    run: runs.ImportRun
    resumed_from_line: int
    rows_this_run: int
    seconds: float
    already_finished: bool
    # Every refused line of the file, in this run and the earlier ones.
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def citizens_per_second(self) -> float:
        return self.rows_this_run / self.seconds if self.seconds > 0 else 0.0


async def import_file(
    conn: Connection,
    path: Path,
    settings: EnrolmentSettings,
    actor: Actor,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    on_refused: Callable[[Refusal], None] = lambda refusal: None,
) -> ImportResult:
    """Import the file on ``conn`` (a connection of its own: it holds the file's lock), or
    continue an earlier import of it. ``on_refused`` hears each refused row once its chunk is
    committed, ``on_progress`` each committed chunk.

    While one chunk is written, the next is read and checked: the database and this process
    work at the same time, and chunks still commit one after another, in file order."""
    started = time.monotonic()
    sha256, total_lines = file_digest(path)
    if not await runs.lock_file(conn, sha256):
        raise BadFile("another import of this file is running")
    writing: _Writing | None = None
    try:
        run = await runs.start_run(conn, sha256, mask_cpr_numbers(path.name), actor.name)
        if run.finished_at is not None:
            refused = [Refusal(line, reason) for line, reason in await runs.refusals(conn, sha256)]
            return ImportResult(run, run.last_line, 0, time.monotonic() - started, True, refused)
        context = OnboardingContext(actor, settings.job_plan_share_basis, settings.course_rules())
        file_rows = records(path)
        _, _, header = next(file_rows)
        reader = RowReader(Columns.of(header), settings)
        resumed_from, done = run.last_line, 0
        chunk: list[OnboardCitizen | Refusal] = []
        last_line = resumed_from

        async def written() -> None:
            """Wait for the chunk being written; tell what it refused and how far it got."""
            nonlocal writing, done
            if writing is None:
                return
            ending, writing = writing, None
            refusals = await ending.task
            done += ending.rows
            for refusal in refusals:
                on_refused(refusal)
            on_progress(Progress(ending.through_line, total_lines, done, time.monotonic() - started))

        async def write(rows: list[OnboardCitizen | Refusal], through_line: int) -> None:
            nonlocal writing
            await written()
            task = asyncio.create_task(_commit_chunk(conn, sha256, rows, through_line, context))
            writing = _Writing(task, len(rows), through_line)

        for first, end, cells in file_rows:
            if end <= resumed_from:
                reader.remember(first, cells)
                continue
            chunk.append(reader.read(first, cells))
            last_line = end
            if len(chunk) >= chunk_rows:
                await write(chunk, last_line)
                chunk = []
            elif writing is not None and len(chunk) % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the chunk being written sends its next statement
        if chunk:
            await write(chunk, last_line)
        await written()
        await runs.finish_run(conn, sha256)
        run = await runs.run(conn, sha256)
        refused = [Refusal(line, reason) for line, reason in await runs.refusals(conn, sha256)]
        return ImportResult(run, resumed_from, done, time.monotonic() - started, False, refused)
    finally:
        if writing is not None:  # stopped while a chunk was written: it commits whole or not at all
            writing.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await writing.task
        if not conn.is_closed():
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                await conn.execute("SELECT pg_advisory_unlock(7310012, hashtext($1))", sha256)


@dataclass(frozen=True)
class _Writing:
    task: asyncio.Task[list[Refusal]]
    rows: int
    through_line: int


# How many rows are read between two chances for the chunk being written to go on.
_YIELD_EVERY = 25


async def _commit_chunk(
    conn: Connection,
    sha256: str,
    chunk: list[OnboardCitizen | Refusal],
    last_line: int,
    context: OnboardingContext,
) -> list[Refusal]:
    """One transaction: the chunk's citizens, plans, events and audit rows, its refusals, and
    how far the file got. Returns the chunk's refusals, in line order."""
    commands = [item for item in chunk if isinstance(item, OnboardCitizen)]
    refusals = [item for item in chunk if isinstance(item, Refusal)]
    async with conn.transaction():
        outcomes = await onboard(conn, commands, context)
        refusals += [Refusal(o.line, o.reason or "refused") for o in outcomes if o.outcome is Outcome.REFUSED]
        refusals.sort(key=lambda refusal: refusal.line)
        counts = (
            sum(o.outcome is Outcome.ENROLLED for o in outcomes),
            sum(o.outcome is Outcome.ALREADY_ENROLLED for o in outcomes),
            sum(o.plan_made for o in outcomes),
            len(refusals),
        )
        await runs.record_chunk(conn, sha256, last_line, counts, [(r.line, r.reason) for r in refusals])
    return refusals
