"""Bulk onboarding from a CSV file (`samspil import`): each row enrols a citizen and makes their
first job plan, checked by the same models as the API's enrolment and job-plan bodies, and
onboarded set-wise a chunk at a time, one transaction per chunk. A bad row is refused with its
line number and the reason, never its values, and the rest go on. The file's run is kept in the
database under the SHA-256 of its bytes, with the last line committed, so running the same file
again continues where it stopped, and once finished does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError

from employment.adapters import onboarding as runs
from employment.domain.actor import Actor
from employment.entrypoints.citizens_http import EnrolmentIn
from employment.entrypoints.csv_format import (
    ACTIVITY_FIELDS,
    CITIZEN_COLUMNS,
    DEFAULT_CHUNK_ROWS,
    TAG_SEPARATORS,
    BadFile,
    Columns,
)
from employment.service_layer.messages import danish_today
from employment.service_layer.onboarding import OnboardCitizen, OnboardingContext, Outcome, onboard
from employment.settings import EnrolmentSettings
from samspil.runtime.db import Connection
from samspil.runtime.pseudonym import citizen_ref_for, normalise_cpr
from samspil.runtime.redaction import redact_text
from schemas.commands import ReviseJobPlan
from schemas.cpr import contains_cpr, mask_cpr_numbers


@dataclass(frozen=True)
class Refusal:
    line: int
    reason: str


class RowReader:
    """Reads rows into commands, or refusals naming the line and the column, never a value."""

    def __init__(self, columns: Columns, settings: EnrolmentSettings) -> None:
        self.columns = columns
        self.settings = settings
        self.first_line_of: dict[str, int] = {}

    def cell(self, cells: list[str], name: str) -> str:
        index = self.columns.index.get(name)
        return cells[index].strip() if index is not None else ""

    def remember(self, line: int, cells: list[str]) -> None:
        """A row an earlier run handled: only its CPR number counts, for duplicates."""
        if self._unreadable(line, cells) is None:
            self._duplicate(line, cells)

    def read(self, line: int, cells: list[str]) -> OnboardCitizen | Refusal:
        refusal = self._unreadable(line, cells) or self._duplicate(line, cells)
        if refusal is not None:
            return refusal
        given = {name: self.cell(cells, name) for name in CITIZEN_COLUMNS}
        body: dict[str, Any] = {name: value for name, value in given.items() if value}
        if "profile_tags" in body:
            body["profile_tags"] = [tag for tag in TAG_SEPARATORS.split(body["profile_tags"]) if tag]
        try:
            enrolment = EnrolmentIn(**body)
        except ValidationError as invalid:
            return Refusal(line, _reasons(invalid, lambda loc: str(loc[0])))
        plan, refusal = self._plan(line, cells)
        if refusal is not None:
            return refusal
        return OnboardCitizen(
            line=line,
            citizen_ref=citizen_ref_for(
                enrolment.cpr, self.settings.citizen_ref_key, self.settings.citizen_ref_key_id
            ),
            cpr=enrolment.cpr,
            target_group=enrolment.target_group,
            profile_tags=enrolment.profile_tags,
            in_contact_course_since=enrolment.in_contact_course_since or danish_today(),
            plan=plan,
        )

    def _unreadable(self, line: int, cells: list[str]) -> Refusal | None:
        if len(cells) != self.columns.width:
            return Refusal(line, f"has {len(cells)} cells where the header has {self.columns.width}")
        if any("\ufffd" in cell for cell in cells):
            return Refusal(line, "is not valid UTF-8 text")
        stray = [name for name, i in self.columns.index.items() if name != "cpr" and contains_cpr(cells[i])]
        if stray:
            return Refusal(line, "; ".join(f"{name}: must not contain a CPR number" for name in stray))
        return None

    def _duplicate(self, line: int, cells: list[str]) -> Refusal | None:
        """A CPR number counts as soon as it is one, whatever else its row holds."""
        try:
            cpr = normalise_cpr(self.cell(cells, "cpr"))
        except ValueError:
            return None
        first = self.first_line_of.setdefault(cpr, line)
        return Refusal(line, f"cpr: the same CPR number as line {first}") if first != line else None

    def _plan(self, line: int, cells: list[str]) -> tuple[ReviseJobPlan | None, Refusal | None]:
        goal = self.cell(cells, "plan_goal")
        activities: list[dict[str, str]] = []
        numbers: list[int] = []
        for number in self.columns.activities:
            activity = {field: self.cell(cells, f"activity{number}_{field}") for field in ACTIVITY_FIELDS}
            if any(activity.values()):
                activities.append({field: value for field, value in activity.items() if value})
                numbers.append(number)
        if not goal and not activities:
            return None, None
        if not goal:
            return None, Refusal(line, "plan_goal: is required with the plan's activities")

        def column(loc: tuple[Any, ...]) -> str:
            if loc[0] == "activities" and len(loc) > 2:
                return f"activity{numbers[loc[1]]}_{loc[2]}"
            return "plan_goal" if loc[0] == "goal" else str(loc[0])

        try:
            return ReviseJobPlan(expected_version=0, goal=goal, activities=activities), None
        except ValidationError as invalid:
            return None, Refusal(line, _reasons(invalid, column))


def _reasons(invalid: ValidationError, column: Callable[[tuple[Any, ...]], str]) -> str:
    reasons = []
    for error in invalid.errors(include_input=False, include_url=False, include_context=False):
        message = "is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
        reasons.append(f"{column(error['loc'])}: {message}")
    # No message echoes its input; this is the belt to those braces.
    return redact_text("; ".join(dict.fromkeys(reasons)))


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


def file_digest(path: Path) -> tuple[str, int]:
    """The SHA-256 of the file's bytes, and its number of lines."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return digest.hexdigest(), lines + (last != b"\n")


def _records(path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, cells) of each record after the header; a quoted cell may span
    lines."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        first_line = file.readline()
        counts = {separator: first_line.count(separator) for separator in ",;\t"}
        delimiter = max(counts, key=lambda separator: counts[separator])
        file.seek(0)  # the decoder starts again, and skips a byte-order mark again
        reader = csv.reader(file, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise BadFile("the file is empty: it needs a header row") from None
        yield 1, reader.line_num, header
        end = reader.line_num
        try:
            for cells in reader:
                start, end = end + 1, reader.line_num
                if cells:
                    yield start, end, cells
        except csv.Error as broken:
            raise BadFile(f"line {end + 1}: the CSV cannot be read further ({broken})") from None


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
        records = _records(path)
        _, _, header = next(records)
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

        for first, end, cells in records:
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
