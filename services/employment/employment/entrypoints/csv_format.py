"""The CSV format of bulk onboarding (`samspil import`): its columns, and the header that names
them. Kept apart from the import itself so the command line can show it cheaply."""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTIVITY_FIELDS = ("category", "title", "starts_on", "ends_on", "hours_per_week", "provider_id")
CITIZEN_COLUMNS = ("cpr", "target_group", "profile_tags", "in_contact_course_since")
REQUIRED_COLUMNS = ("cpr", "target_group")
_ACTIVITY_COLUMN = re.compile(rf"activity([1-9][0-9]?)_({'|'.join(ACTIVITY_FIELDS)})")
TAG_SEPARATORS = re.compile(r"[|\s]+")
DEFAULT_CHUNK_ROWS = 1000

FORMAT = """\
The file: CSV in UTF-8 (a byte-order mark is allowed), with a header row; columns in any order,
separated by commas, semicolons or tabs (the header's separator is used); an empty cell is a
missing value. One row per citizen:
  cpr                      required: DDMMYY-SSSS or ten digits
  target_group             required: kontanthjaelp, uddannelseshjaelp, integrationsydelse,
                           sygedagpenge or ressourceforloeb
  profile_tags             tags separated by '|' or spaces: maybe-suited-for-activation,
                           physically-ill, substance-abuse, diffuse-mental-illness,
                           diagnosed-mental-illness-or-trauma, far-from-labour-market
  in_contact_course_since  YYYY-MM-DD, within the last ten years (default: today)
  plan_goal                the job plan's goal; empty: no job plan is made
  activityN_category       for N = 1, 2, ...: the plan's Nth activity: employment-offer,
                           company-internship, wage-subsidy, education, mentor,
                           social-services-measure, health-measure or other
  activityN_title          required with the activity
  activityN_starts_on      YYYY-MM-DD, required with the activity
  activityN_ends_on        YYYY-MM-DD, optional
  activityN_hours_per_week optional, more than 0 and at most 60
  activityN_provider_id    optional
Each row is checked as the API checks an enrolment (POST /v1/citizens) and a first job plan
(POST /v1/citizens/{ref}/job-plan with expected_version 0); a citizen already enrolled gets the
profile replaced, and the plan made if they have none; one whose current plan differs is
refused. A CPR number in any other column, a CPR number twice in the file, or a bad value is
refused with the line number and the reason. Example: tests/data/onboarding-example.csv."""


class BadFile(Exception):
    """The file as a whole cannot be imported (header, encoding): nothing was written."""


@dataclass(frozen=True)
class Columns:
    index: dict[str, int]
    activities: list[int]  # the activity numbers the header has, ascending
    width: int

    @classmethod
    def of(cls, header: list[str]) -> Columns:
        names = [name.strip().lower() for name in header]
        unknown = [
            position
            for position, name in enumerate(names, start=1)
            if name not in (*CITIZEN_COLUMNS, "plan_goal") and not _ACTIVITY_COLUMN.fullmatch(name)
        ]
        if unknown:
            # By position, not by name: a file without its header row has a citizen's cells
            # there, and a CPR number split over two of them is whole again once joined.
            shown = ", ".join(str(position) for position in unknown[:5])
            raise BadFile(
                f"the header has unknown columns (column {shown}); is the header row missing?"
                " See --help for the columns"
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise BadFile(f"the header names columns twice: {', '.join(repeated)}")
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            raise BadFile(f"the header lacks the required columns: {', '.join(missing)}")
        numbers = sorted(
            {int(match.group(1)) for name in names if (match := _ACTIVITY_COLUMN.fullmatch(name))}
        )
        return cls({name: i for i, name in enumerate(names)}, numbers, len(names))
