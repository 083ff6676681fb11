"""Bulk onboarding: `samspil import` of a CSV file of made-up citizens, each with a job plan of
two activities, into an employment database; citizens enrolled per second.

The CPR numbers are made up with birth dates from 2030 on (7th digit 4 or 9), so none belongs
to anyone; they differ by date and sequence number."""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import asyncpg

from employment.domain.actor import Actor
from employment.enrolment_settings import EnrolmentSettings
from employment.entrypoints.csv_import import import_file
from samspil.runtime.db import create_pool, migrate

KEY = "benchmark-citizen-reference-key-" + "b" * 32
TARGET_GROUPS = ("kontanthjaelp", "uddannelseshjaelp", "integrationsydelse", "sygedagpenge")
HEADER = [
    "cpr",
    "target_group",
    "profile_tags",
    "in_contact_course_since",
    "plan_goal",
    *(
        f"activity{n}_{field}"
        for n in (1, 2)
        for field in ("category", "title", "starts_on", "hours_per_week")
    ),
]


def made_up_cprs(count: int) -> Iterator[str]:
    """``count`` different CPR numbers of people born 2030-2036 (none born yet)."""
    born, sequence = date(2030, 1, 1), 0
    for _ in range(count):
        yield f"{born:%d%m%y}-{4000 + sequence:04d}"
        sequence += 1
        if sequence == 1000:
            born, sequence = born + timedelta(days=1), 0


def write_cases(path: Path, citizens: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n, cpr in enumerate(made_up_cprs(citizens)):
            writer.writerow(
                [
                    cpr,
                    TARGET_GROUPS[n % len(TARGET_GROUPS)],
                    "maybe-suited-for-activation|physically-ill" if n % 3 else "",
                    "2026-09-01",
                    "Afklaring af arbejdsevne; på sigt job i lager og logistik.",
                    "mentor",
                    "Mentorstøtte",
                    "2026-12-01",
                    "2",
                    "company-internship",
                    "Virksomhedspraktik i lager",
                    "2027-01-04",
                    "15",
                ]
            )


async def onboarding(dsn: str, citizens: int = 20000) -> dict[str, float]:
    """Import ``citizens`` made-up citizens into the employment database at ``dsn`` (migrated
    here if it is not yet) and return the rate."""
    pool = await create_pool(dsn, min_size=1, max_size=1)
    try:
        await migrate(pool, "samspil.runtime.migrations", "employment.migrations")
    finally:
        await pool.close()
    settings = EnrolmentSettings(SAMSPIL_CITIZEN_REF_KEY=KEY)
    with tempfile.TemporaryDirectory(prefix="samspil-onboarding-") as folder:
        path = Path(folder) / "cases.csv"
        write_cases(path, citizens)
        conn = await asyncpg.connect(dsn)
        try:
            started = time.perf_counter()
            result = await import_file(conn, path, settings, Actor(name="benchmark operator"))
            seconds = time.perf_counter() - started
        finally:
            await conn.close()
    if result.run.enrolled != citizens or result.run.refused:
        raise RuntimeError(
            f"onboarding: {result.run.enrolled} of {citizens} enrolled, {result.run.refused} refused"
        )
    return {"citizens": citizens, "seconds": seconds, "citizens_per_s": citizens / seconds}
