"""Reading the rows of an onboarding CSV file: each row becomes a command checked by the same
models as the API's enrolment and job-plan bodies, or a refusal that names the line and the
column, never a value. The format is in csv_format.py."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from employment.enrolment_settings import EnrolmentSettings
from employment.entrypoints.citizens_http import EnrolmentIn
from employment.entrypoints.csv_format import (
    ACTIVITY_FIELDS,
    CITIZEN_COLUMNS,
    TAG_SEPARATORS,
    BadFile,
    Columns,
)
from employment.service_layer.messages import danish_today
from employment.service_layer.onboarding import OnboardCitizen
from samspil.runtime.pseudonym import citizen_ref_for, normalise_cpr
from samspil.runtime.redaction import redact_text
from schemas.commands import ReviseJobPlan
from schemas.cpr import contains_cpr


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


def file_digest(path: Path) -> tuple[str, int]:
    """The SHA-256 of the file's bytes, and its number of lines."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return digest.hexdigest(), lines + (last != b"\n")


def records(path: Path) -> Iterator[tuple[int, int, list[str]]]:
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
