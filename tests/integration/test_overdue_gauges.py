"""The employment service reports overdue follow-ups and overdue tasks from its database, by the
domain's own rule (the query must count exactly the courses ``Course`` calls overdue)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import asyncpg

from employment.adapters.gauges import GAUGES
from employment.domain.contact_course import Course, Lead
from employment.domain.tasks import TaskStatus
from employment.service_layer.messages import danish_today
from samspil.runtime.metrics import ServiceMetrics, render
from tests.support import samples, value


def courses(today: date) -> list[Course]:
    """Edge cases of the due date: month arithmetic, postponements before and after it, a social
    lead, due today (not overdue) and due yesterday (overdue)."""
    month_ago = today - timedelta(days=31)
    return [
        Course(started_on=today - timedelta(days=200)),  # three months passed long ago
        Course(started_on=today - timedelta(days=10)),  # not due for months
        Course(started_on=date(today.year - 1, 1, 31), cadence_months=1, last_follow_up_on=month_ago),
        Course(started_on=date(today.year - 1, 1, 31), cadence_months=1),
        Course(started_on=today - timedelta(days=200), lead=Lead.SOCIAL),  # the jobcenter does not chase
        Course(started_on=today - timedelta(days=200), postponed_until=today + timedelta(days=3)),
        Course(started_on=today - timedelta(days=200), postponed_until=today - timedelta(days=1)),
        Course(started_on=today - timedelta(days=200), postponed_until=today),
        # A postponement that ended before the normal due date: the due date stands (not overdue).
        Course(
            started_on=today - timedelta(days=400),
            last_follow_up_on=today - timedelta(days=10),
            postponed_until=today - timedelta(days=5),
        ),
        Course(started_on=today - timedelta(days=400), last_follow_up_on=today - timedelta(days=95)),
        Course(started_on=today - timedelta(days=400), last_follow_up_on=today - timedelta(days=80)),
        # Every last follow-up from 25 to 100 days ago with each short cadence: whichever month
        # lengths lie behind today, the due dates fall on both sides of it.
        *(
            Course(
                started_on=date(2020, 1, 1), cadence_months=months, last_follow_up_on=today - timedelta(days)
            )
            for months in (1, 2, 3)
            for days in range(25, 101)
        ),
    ]


def is_overdue(course: Course, today: date) -> bool:
    return course.chased_by_jobcenter and course.due_on < today


async def gauges(pool: asyncpg.Pool) -> dict[str, float]:
    page = samples(
        bytes(
            (await render(ServiceMetrics("employment", database_gauges=GAUGES), _runtime(pool))).body
        ).decode()
    )
    return {gauge.name: value(page, gauge.name, service="employment") for gauge in GAUGES}


def _runtime(pool: asyncpg.Pool) -> SimpleNamespace:
    return SimpleNamespace(pool=pool, relay=None)


async def test_overdue_follow_ups_are_the_courses_the_domain_calls_overdue(
    employment_db: asyncpg.Pool,
) -> None:
    today = danish_today()
    given = courses(today)
    await employment_db.executemany(
        "INSERT INTO contact_course (citizen_ref, started_on, cadence_months, last_follow_up_on,"
        " postponed_until, lead_department) VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (
                f"ref-{uuid.uuid4()}",
                course.started_on,
                course.cadence_months,
                course.last_follow_up_on,
                course.postponed_until,
                course.lead.value,
            )
            for course in given
        ],
    )
    expected = sum(is_overdue(course, today) for course in given)
    assert 0 < expected < len(given)
    assert (await gauges(employment_db))["samspil_overdue_follow_ups"] == expected


async def test_overdue_tasks_are_the_open_ones_past_their_due_date(employment_db: asyncpg.Pool) -> None:
    today = danish_today()
    for status, due_on in [
        (TaskStatus.OPEN, today - timedelta(days=1)),
        (TaskStatus.OPEN, today - timedelta(days=30)),
        (TaskStatus.OPEN, today),
        (TaskStatus.CLOSED, today - timedelta(days=5)),
    ]:
        await employment_db.execute(
            "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, status, due_on)"
            " VALUES ($1, 'ref', 'follow-up', 'Follow up', $2, $3)",
            uuid.uuid4(),
            status.value,
            due_on,
        )
    assert (await gauges(employment_db))["samspil_overdue_tasks"] == 2
