"""Every list that can grow is read a page at a time: the routes themselves, on a real database,
with rows that tie on the sort's first columns, so only the unique tiebreak keeps the order. A
second page continues exactly where the first stopped, and the last page has no next cursor."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg

from employment.entrypoints import citizens_http as employment_citizens
from employment.entrypoints import http as employment_http
from samspil.runtime.paging import Page
from social.entrypoints import citizens_http as social_citizens
from social.entrypoints import http as social_http

ROWS = 5  # read two at a time: pages of 2, 2 and 1
DAY = date(2026, 11, 2)
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CALLER: Any = None  # the routes take the caller for authorization only


def request_on(pool: asyncpg.Pool) -> Any:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(pool=pool))))


async def every_page(read: Callable[[str | None], Awaitable[Page[Any]]]) -> list[list[Any]]:
    """The pages of a list, two items each, following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        page = await read(cursor)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        assert len(pages) <= ROWS, "the cursor does not move on"
        cursor = page.next_cursor


def ids(pages: list[list[Any]], name: str) -> list[list[str]]:
    return [[str(getattr(item, name)) for item in page] for page in pages]


def citizen_ref(n: int) -> str:
    return f"k1:{n:064x}"


def cpr(n: int) -> str:
    return f"0101{n:06d}"


async def add_citizens(pool: asyncpg.Pool, social: bool = False) -> None:
    for n in range(ROWS):
        if social:
            await pool.execute(
                "INSERT INTO citizen (citizen_ref, cpr, enrolled_by) VALUES ($1, $2, 't')",
                citizen_ref(n),
                cpr(n),
            )
        else:
            await pool.execute(
                "INSERT INTO citizen (citizen_ref, cpr, target_group, enrolled_on, enrolled_by)"
                " VALUES ($1, $2, 'kontanthjaelp', $3, 't')",
                citizen_ref(n),
                cpr(n),
                DAY - timedelta(days=400),  # all the same day: only the reference orders them
            )


async def add_tasks(pool: asyncpg.Pool) -> list[str]:
    """Five tasks of one citizen, due and created at the same moment; their ids in list order."""
    task_ids = sorted(uuid.uuid4() for _ in range(ROWS))
    for task_id in reversed(task_ids):
        await pool.execute(
            "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, due_on, details, created_at)"
            " VALUES ($1, $2, 'resolve-plan-conflict', 'Løs konflikten', $3, '{}', $4)",
            task_id,
            citizen_ref(0),
            DAY,
            AT,
        )
    return [str(task_id) for task_id in task_ids]


def pages_of_two(expected: list[str]) -> list[list[str]]:
    return [expected[0:2], expected[2:4], expected[4:5]]


async def test_the_jobcenters_task_list_pages_on_due_date_then_task_id(employment_db: asyncpg.Pool) -> None:
    await add_citizens(employment_db)
    expected = await add_tasks(employment_db)
    request = request_on(employment_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await employment_http.list_tasks(
            request, CALLER, citizen_ref=citizen_ref(0), cursor=cursor, limit=2
        )

    pages = await every_page(read)
    assert ids(pages, "task_id") == pages_of_two(expected)
    assert [action.name for action in pages[0][0].actions] == ["close"]


async def test_the_social_teams_task_list_pages_on_due_date_then_task_id(social_db: asyncpg.Pool) -> None:
    await add_citizens(social_db, social=True)
    expected = await add_tasks(social_db)
    request = request_on(social_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await social_http.list_tasks(
            request, CALLER, task_status=None, citizen_ref=citizen_ref(0), cursor=cursor, limit=2
        )

    assert ids(await every_page(read), "task_id") == pages_of_two(expected)


async def add_notes(pool: asyncpg.Pool) -> list[str]:
    for n in range(ROWS):
        await pool.execute(
            "INSERT INTO case_note (citizen_ref, author, text, written_at) VALUES ($1, 'Kim', $2, $3)",
            citizen_ref(0),
            f"Note {n}",
            AT,
        )
    return [f"Note {n}" for n in range(ROWS)]


async def test_the_jobcenters_case_notes_page_in_the_order_written(employment_db: asyncpg.Pool) -> None:
    await add_citizens(employment_db)
    expected = await add_notes(employment_db)
    request = request_on(employment_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await employment_citizens.list_case_notes(
            citizen_ref(0), request, CALLER, cursor=cursor, limit=2
        )

    assert ids(await every_page(read), "text") == pages_of_two(expected)


async def test_the_social_case_notes_page_in_the_order_written(social_db: asyncpg.Pool) -> None:
    await add_citizens(social_db, social=True)
    expected = await add_notes(social_db)
    request = request_on(social_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await social_citizens.list_case_notes(citizen_ref(0), request, CALLER, cursor=cursor, limit=2)

    assert ids(await every_page(read), "text") == pages_of_two(expected)


async def test_the_case_history_pages_on_arrival_then_submission_id(employment_db: asyncpg.Pool) -> None:
    await add_citizens(employment_db)
    submissions = sorted(uuid.uuid4() for _ in range(ROWS))
    for submission_id in reversed(submissions):
        await employment_db.execute(
            "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id,"
            " source_event_id, details, received_at) VALUES ($1, 'absence-notice', $2, $3, 'p', $4, $5, $6)",
            submission_id,
            citizen_ref(0),
            uuid.uuid4(),
            uuid.uuid4(),
            json.dumps({"absent_from": "2026-11-02"}),
            AT,
        )
    request = request_on(employment_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await employment_citizens.case_history(citizen_ref(0), request, CALLER, cursor=cursor, limit=2)

    assert ids(await every_page(read), "submission_id") == pages_of_two([str(s) for s in submissions])


async def test_the_parked_citizens_report_pages_on_enrolment_then_citizen(
    employment_db: asyncpg.Pool,
) -> None:
    await add_citizens(employment_db)
    request = request_on(employment_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await employment_citizens.parked_citizens(request, CALLER, months=1, cursor=cursor, limit=2)

    expected = [citizen_ref(n) for n in range(ROWS)]
    assert ids(await every_page(read), "citizen_ref") == pages_of_two(expected)


async def test_the_disputes_page_on_deadline_then_dispute_id(social_db: asyncpg.Pool) -> None:
    await add_citizens(social_db, social=True)
    disputes = sorted(uuid.uuid4() for _ in range(ROWS))
    for dispute_id in reversed(disputes):
        decision_id = uuid.uuid4()
        await social_db.execute(
            "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
            " target_plan, decision, reason, object_by, status)"
            " VALUES ($1, $2, 'employment', 'team', 'job-plan', 'approved', 'r', $3, 'objected')",
            decision_id,
            citizen_ref(0),
            DAY,
        )
        await social_db.execute(
            "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
            " social_position, rule_by) VALUES ($1, $2, $3, 'social', 'e', 's', $4)",
            dispute_id,
            decision_id,
            citizen_ref(0),
            DAY,
        )
    request = request_on(social_db)

    async def read(cursor: str | None) -> Page[Any]:
        return await social_citizens.list_disputes(request, CALLER, open_only=True, cursor=cursor, limit=2)

    assert ids(await every_page(read), "dispute_id") == pages_of_two([str(d) for d in disputes])
