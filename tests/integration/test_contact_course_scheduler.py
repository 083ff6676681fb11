"""The contact-course scheduler on the real PostgreSQL: each alarm announced exactly once with two
replicas scanning at the same moment, a scan that reads only what is due, and case notes that
cannot be changed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from employment.adapters import cases
from employment.domain.contact_course import Course, Lead
from employment.service_layer.course import (
    CourseRules,
    announce_due_follow_ups,
    provider_meeting,
    social_follow_up,
)
from samspil.runtime.db import create_pool
from schemas.common import Department
from schemas.contact_course import FollowUpDueSoon, FollowUpKind, FollowUpOverdue, SocialFollowUpRecorded
from schemas.envelope import Envelope
from tests.support import citizen_ref

TODAY = date(2027, 6, 15)
RULES = CourseRules(reminder_days=14)


async def add_course(pool: asyncpg.Pool, started_on: date) -> str:
    ref = citizen_ref()
    course = Course(started_on=started_on)
    async with pool.acquire() as conn:
        await cases.save_course(conn, ref, course, course.next_alarm_on(RULES.reminder_days))
    return ref


async def announcements(pool: asyncpg.Pool) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await pool.fetch("SELECT event_type, record_key, payload FROM outbox ORDER BY seq")
    return [(row["event_type"], row["record_key"].decode(), json.loads(row["payload"])) for row in rows]


async def scanned(pool: asyncpg.Pool, alarms: int, *scans: Awaitable[int]) -> list[int]:
    """The scans' counts, once they are done. An alarm announced twice is announced again on
    every pass of the scan, which then never ends: as soon as the outbox holds more than
    ``alarms`` announcements the scans are stopped and the test fails, saying so, instead of
    waiting for pytest's timeout."""
    running = asyncio.gather(*scans)
    while not running.done():
        stored = await pool.fetchval("SELECT count(*) FROM outbox")
        if stored > alarms:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            pytest.fail(
                f"{stored} announcements for {alarms} alarms: an alarm was announced more than once,"
                " and a scan that announces again finds it due again, for ever"
            )
        await asyncio.wait({running}, timeout=0.05)
    return running.result()


async def test_two_replicas_scanning_together_announce_each_alarm_once(
    employment_db: asyncpg.Pool, employment_url: str
) -> None:
    overdue = [await add_course(employment_db, TODAY - timedelta(days=120)) for _ in range(150)]
    due_soon = [await add_course(employment_db, TODAY - timedelta(days=85)) for _ in range(50)]
    not_yet = [await add_course(employment_db, TODAY - timedelta(days=10)) for _ in range(30)]
    other_replica = await create_pool(employment_url)
    try:
        counts = await scanned(
            employment_db,
            200,
            announce_due_follow_ups(employment_db, TODAY, RULES, batch=20),
            announce_due_follow_ups(other_replica, TODAY, RULES, batch=20),
        )
    finally:
        await other_replica.close()
    assert sum(counts) == 200
    # Scanning again, as after a restart, announces nothing more.
    assert await scanned(employment_db, 200, announce_due_follow_ups(employment_db, TODAY, RULES)) == [0]

    announced = await announcements(employment_db)
    overdue_refs = [key for kind, key, _ in announced if kind == FollowUpOverdue.event_type]
    due_soon_refs = [key for kind, key, _ in announced if kind == FollowUpDueSoon.event_type]
    assert sorted(overdue_refs) == sorted(overdue)
    assert sorted(due_soon_refs) == sorted(due_soon)
    assert not set(not_yet) & {key for _, key, _ in announced}
    # The next day brings nothing new for the overdue ones: once per due date.
    assert await scanned(
        employment_db, 200, announce_due_follow_ups(employment_db, TODAY + timedelta(days=1), RULES)
    ) == [0]


async def test_finding_what_is_due_reads_only_what_is_due(employment_db: asyncpg.Pool) -> None:
    async with employment_db.acquire() as conn:
        # Many citizens whose follow-up is far off, a few due now.
        await conn.execute(
            "INSERT INTO contact_course (citizen_ref, started_on, next_alarm_on)"
            " SELECT 'k1:' || md5(i::text) || md5((i + 1)::text), $1, $2::date + (i % 60)"
            " FROM generate_series(1, 20000) AS i",
            TODAY,
            TODAY + timedelta(days=30),
        )
        for _ in range(5):
            course = Course(started_on=TODAY - timedelta(days=200))
            await cases.save_course(conn, citizen_ref(), course, course.next_alarm_on(14))
        await conn.execute("ANALYZE contact_course")
        async with conn.transaction():
            plan = await conn.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT citizen_ref FROM contact_course"
                " WHERE next_alarm_on IS NOT NULL AND next_alarm_on <= $1"
                " ORDER BY next_alarm_on LIMIT 200 FOR UPDATE SKIP LOCKED",
                TODAY,
            )
    nodes = _nodes(json.loads(plan)[0]["Plan"])
    scans = [node for node in nodes if "Scan" in node["Node Type"]]
    # Through the partial index, never a sequential scan; every row read was a due one.
    assert "Seq Scan" not in {scan["Node Type"] for scan in scans}
    assert "contact_course_alarm" in {scan.get("Index Name") for scan in scans}
    assert [scan["Actual Rows"] for scan in scans] == [5] * len(scans)
    assert all(scan.get("Rows Removed by Filter", 0) == 0 for scan in scans)


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(child for sub in node.get("Plans", []) for child in _nodes(sub))]


async def test_case_notes_cannot_be_changed_or_removed(employment_db: asyncpg.Pool) -> None:
    ref = citizen_ref()
    async with employment_db.acquire() as conn:
        await cases.insert_citizen(conn, ref, "0101801234", "kontanthjaelp", [], TODAY, "test")
        await cases.add_note(conn, ref, "Kim Testesen", "Første note.")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE case_note SET text = 'ændret'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM case_note")
        assert [row["text"] for row in await cases.notes(conn, ref, None, 10)] == ["Første note."]


async def test_a_provider_meeting_dated_in_the_future_does_not_silence_the_chasing(
    employment_db: asyncpg.Pool,
) -> None:
    ref = citizen_ref()
    async with employment_db.acquire() as conn:
        await cases.insert_citizen(
            conn, ref, "0101801235", "kontanthjaelp", [], TODAY - timedelta(days=120), "test"
        )
        course = Course(started_on=TODAY - timedelta(days=120))
        await cases.save_course(conn, ref, course, course.next_alarm_on(RULES.reminder_days))
        envelope = Envelope(
            source="/samspil/provider-gateway",
            type="dk.samspil.provider.meeting.reported.v1",
            subject=ref,
            dataschema="x",
            correlationid=uuid.uuid4(),
            time=datetime.combine(TODAY, time(10), tzinfo=UTC),
        )
        async with conn.transaction():
            await provider_meeting(conn, envelope, TODAY + timedelta(days=365), "aktivcenter-nord", RULES)
        after = await cases.course(conn, ref)
    assert after == course  # not counted: the follow-up is still overdue
    assert await scanned(employment_db, 1, announce_due_follow_ups(employment_db, TODAY, RULES)) == [1]


async def test_a_social_follow_up_held_before_the_handover_counts_when_it_arrives_after(
    employment_db: asyncpg.Pool,
) -> None:
    ref = citizen_ref()
    today = date.today()  # the handler dates the event by its arrival
    handed_over_on = today - timedelta(days=2)
    course = Course(started_on=today - timedelta(days=200), lead=Lead.EMPLOYMENT)
    async with employment_db.acquire() as conn:
        await cases.save_course(conn, ref, course, course.next_alarm_on(RULES.reminder_days))
        await conn.execute(
            "UPDATE contact_course SET lead_since = $2 WHERE citizen_ref = $1", ref, handed_over_on
        )

        def held(on: date) -> tuple[Envelope, SocialFollowUpRecorded]:
            event = SocialFollowUpRecorded(
                kind=FollowUpKind.CASEWORKER_MEETING, department=Department.SOCIAL, held_on=on
            )
            envelope = Envelope(
                source="/samspil/social",
                type=event.event_type,
                subject=ref,
                dataschema=event.dataschema,
                correlationid=uuid.uuid4(),
            )
            return envelope, event

        async with conn.transaction():
            await social_follow_up(conn, *held(handed_over_on - timedelta(days=1)), RULES)
        counted = await cases.course(conn, ref)
        async with conn.transaction():
            await social_follow_up(conn, *held(today), RULES)  # held after the jobcenter took over
        after = await cases.course(conn, ref)
    assert counted is not None and counted.last_follow_up_on == handed_over_on - timedelta(days=1)
    assert after == counted
