"""Each department's key figures from rows of known times, on its own database: what falls in a
period (whole Copenhagen days, midnight included on the first and excluded after the last), what
a team narrows, and the median and 90th percentile as percentile_cont interpolates them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg

from employment.adapters import kpis as employment_kpis
from employment.domain.kpis import EmploymentKpis, ProgressReports, ReferralOutcome
from samspil.runtime.reports import Durations, Period
from social.adapters import kpis as social_kpis

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
TEAM, OTHER_TEAM = "Jobcenter Nord, team 3", "Jobcenter Syd, team 1"
HOUR = 3600.0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def to_the_millisecond(measured: Durations) -> tuple[int, float | None, float | None]:
    def rounded(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds, 3)

    return measured.count, rounded(measured.median_seconds), rounded(measured.p90_seconds)


async def _task(pool: asyncpg.Pool, created_at: datetime, seconds: float, team: str, kind: str) -> None:
    await pool.execute(
        "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, status, due_on, created_at,"
        " closed_at, closed_by_team) VALUES ($1, 'ref', $2, 'Task', 'closed', $3, $4, $5, $6)",
        uuid.uuid4(),
        kind,
        created_at.date(),
        created_at,
        created_at + timedelta(seconds=seconds),
        team,
    )


async def test_absence_assessments_in_a_period_of_copenhagen_days_per_team(
    employment_db: asyncpg.Pool,
) -> None:
    for created_at, hours, team, kind in [
        (utc(2026, 3, 10, 8), 1, TEAM, "recontact-citizen"),
        (utc(2026, 3, 11, 8), 2, TEAM, "recontact-citizen"),
        (utc(2026, 3, 12, 8), 10, TEAM, "recontact-citizen"),
        # Closed at 00:30 on 1 March in Copenhagen (23:30 UTC the day before): in the period.
        (utc(2026, 2, 28, 19, 30), 4, TEAM, "recontact-citizen"),
        # Closed at 00:30 on 1 April in Copenhagen (summer time): after it.
        (utc(2026, 3, 31, 18, 30), 4, TEAM, "recontact-citizen"),
        (utc(2026, 3, 12, 8), 100, OTHER_TEAM, "recontact-citizen"),
        (utc(2026, 3, 12, 8), 50, TEAM, "review-progress-report"),  # not an absence notice
    ]:
        await _task(employment_db, created_at, hours * HOUR, team, kind)

    # 1, 2, 4 and 10 hours: the median halfway between 2 and 4, the 90th percentile 0.7 of the
    # way from 4 to 10 (position 0.9 * 3 = 2.7).
    measured = await employment_kpis.absence_notice_to_assessment(employment_db, MARCH, TEAM)
    assert to_the_millisecond(measured) == (4, 3 * HOUR, 4 * HOUR + 0.7 * 6 * HOUR)
    whole = await employment_kpis.absence_notice_to_assessment(employment_db, MARCH, None)
    assert whole.count == 5 and whole.median_seconds == 4 * HOUR
    nobody = await employment_kpis.absence_notice_to_assessment(employment_db, MARCH, "No such team")
    assert nobody == Durations(0, None, None)


async def test_referrals_end_by_outcome_party_and_category_on_the_day_the_step_took_effect(
    employment_db: asyncpg.Pool,
) -> None:
    # (status, by, on, reason category, outcome category)
    steps = [
        ("completed", "provider", date(2026, 3, 1), None, None),
        ("completed", "provider", date(2026, 3, 31), None, None),
        ("completed", "provider", date(2026, 3, 15), None, "education"),  # an outcome's category
        # As a replica of the version before migration 023 wrote it during the rollout.
        ("completed", "provider", date(2026, 3, 16), "job", None),
        ("failed", "provider", date(2026, 3, 5), None, None),
        ("cancelled", "jobcenter", date(2026, 3, 6), "citizen-moved", None),
        ("cancelled", "provider", date(2026, 3, 7), "citizen-moved", None),
        ("rejected", "provider", date(2026, 3, 8), "provider-capacity", None),
        ("rejected", "provider", date(2026, 4, 8), "provider-capacity", None),  # after the period
        ("completed", "provider", date(2026, 4, 1), None, None),  # after the period
        ("in-progress", "provider", date(2026, 3, 9), None, None),  # not an ending
    ]
    for status, changed_by, occurred_on, category, outcome_category in steps:
        referral_id = uuid.uuid4()
        await employment_db.execute(
            "INSERT INTO referral (referral_id, citizen_ref, provider_id, offer_kind, offer_title,"
            " hours_per_week, starts_on, citizen_display_name) VALUES ($1, 'ref', 'p', 'activation', 'Offer',"
            " 10, '2026-01-01', 'Citizen')",
            referral_id,
        )
        await employment_db.execute(
            "INSERT INTO referral_status_change"
            " (referral_id, status, changed_by, occurred_on, reason_category, outcome_category)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            referral_id,
            status,
            changed_by,
            occurred_on,
            category,
            outcome_category,
        )
    ended = await employment_kpis.referrals_ended(employment_db, MARCH)
    assert [(e.outcome.value, e.ended_by, e.category, e.count) for e in ended] == [
        ("cancelled", "jobcenter", "citizen-moved", 1),
        ("cancelled", "provider", "citizen-moved", 1),
        ("completed", "provider", "education", 1),
        ("completed", "provider", "job", 1),
        ("completed", "provider", "unspecified", 2),
        ("failed", "provider", "unspecified", 1),
        ("rejected", "provider", "provider-capacity", 1),
    ]
    nothing = Durations(0, None, None)
    totals = EmploymentKpis(
        absence_notice_to_assessment=nothing,
        follow_ups_overdue_now=0,
        follow_ups_overdue_in_period=0,
        referrals_ended=ended,
        plan_change_request_to_final=nothing,
        parked_citizens=0,
        progress_reports=ProgressReports(0, 0),
        progress_reports_overdue_now=0,
    )
    assert totals.referrals_by_outcome() == {
        ReferralOutcome.COMPLETED: 4,
        ReferralOutcome.FAILED: 1,
        ReferralOutcome.CANCELLED: 2,
        ReferralOutcome.REJECTED: 1,
    }


async def test_follow_ups_count_as_overdue_in_the_period_from_the_day_after_they_fell_due(
    employment_db: asyncpg.Pool,
) -> None:
    for due_on in (
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 15),
        date(2026, 3, 30),
        date(2026, 3, 31),
    ):
        await employment_db.execute(
            "INSERT INTO follow_up_overdue (citizen_ref, due_on) VALUES ($1, $2)", f"ref-{due_on}", due_on
        )
    # Overdue from 1 March, 16 March and 31 March; not 28 February nor 1 April.
    assert await employment_kpis.follow_ups_overdue_in_period(employment_db, MARCH) == 3


async def test_a_plan_change_request_counts_from_its_arrival_to_when_its_decision_became_final(
    employment_db: asyncpg.Pool,
) -> None:
    for team, received_at, final_at in [
        (TEAM, utc(2026, 3, 2, 9), utc(2026, 3, 4, 9)),
        (TEAM, utc(2026, 3, 2, 9), utc(2026, 3, 3, 9)),
        (OTHER_TEAM, utc(2026, 3, 2, 9), utc(2026, 3, 12, 9)),
        (TEAM, utc(2026, 3, 2, 9), None),  # still provisional
    ]:
        submission_id, decision_id = uuid.uuid4(), uuid.uuid4()
        await employment_db.execute(
            "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id,"
            " source_event_id, details, received_at) VALUES ($1, 'plan-change-request', 'ref', $2, 'p', $2,"
            " '{}', $3)",
            submission_id,
            uuid.uuid4(),
            received_at,
        )
        await employment_db.execute(
            "INSERT INTO plan_change_decision (decision_id, submission_id, citizen_ref, decision, reason,"
            " team, decided_by) VALUES ($1, $2, 'ref', 'approved', 'Reason', $3, 'Kim')",
            decision_id,
            submission_id,
            team,
        )
        if final_at is not None:
            await employment_db.execute(
                "UPDATE plan_change_decision SET status = 'final', final_at = $2 WHERE decision_id = $1",
                decision_id,
                final_at,
            )
    measured = await employment_kpis.plan_change_request_to_final(employment_db, MARCH, TEAM)
    assert to_the_millisecond(measured) == (2, 36 * HOUR, 24 * HOUR + 0.9 * 24 * HOUR)
    assert (await employment_kpis.plan_change_request_to_final(employment_db, MARCH, None)).count == 3


async def test_a_decision_records_when_it_became_final_whichever_path_finalised_it(
    employment_db: asyncpg.Pool, social_db: asyncpg.Pool
) -> None:
    decision_id = uuid.uuid4()
    await employment_db.execute(
        "INSERT INTO plan_change_decision (decision_id, submission_id, citizen_ref, decision, reason, team,"
        " decided_by) VALUES ($1, $2, 'ref', 'approved', 'Reason', 'Team', 'Kim')",
        decision_id,
        uuid.uuid4(),
    )
    read = "SELECT final_at FROM plan_change_decision WHERE decision_id = $1"
    assert await employment_db.fetchval(read, decision_id) is None
    await employment_db.execute(
        "UPDATE plan_change_decision SET status = 'disputed' WHERE decision_id = $1", decision_id
    )
    assert await employment_db.fetchval(read, decision_id) is None
    await employment_db.execute(
        "UPDATE plan_change_decision SET status = 'final' WHERE decision_id = $1", decision_id
    )
    final_at = await employment_db.fetchval(read, decision_id)
    assert final_at is not None
    await employment_db.execute(
        "UPDATE plan_change_decision SET status = 'final' WHERE decision_id = $1", decision_id
    )
    assert await employment_db.fetchval(read, decision_id) == final_at  # kept, not moved

    await social_db.execute(
        "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
        " target_plan, decision, reason, object_by) VALUES ($1, 'ref', 'social', 'Team', 'social-plan',"
        " 'approved', 'Reason', '2026-03-10')",
        decision_id,
    )
    await social_db.execute("UPDATE decision_review SET status = 'final' WHERE decision_id = $1", decision_id)
    assert await social_db.fetchval(
        "SELECT final_at FROM decision_review WHERE decision_id = $1", decision_id
    )


async def test_disputes_are_ruled_on_time_by_the_danish_day_of_the_ruling(social_db: asyncpg.Pool) -> None:
    team = "Socialcenter Vest, team 2"
    for raised_by, rule_by, ruled_at in [
        # 23:30 on 10 March in Copenhagen: on the deadline's day.
        (team, date(2026, 3, 10), utc(2026, 3, 10, 22, 30)),
        # 00:30 on 11 March in Copenhagen: a day late.
        (team, date(2026, 3, 10), utc(2026, 3, 10, 23, 30)),
        (team, date(2026, 3, 20), utc(2026, 3, 2, 9)),
        ("Jobcenter Nord, team 3", date(2026, 3, 20), utc(2026, 3, 25, 9)),
        (team, date(2026, 2, 20), utc(2026, 2, 25, 9)),  # ruled before the period
        (team, date(2020, 1, 10), None),  # open and past its deadline
        (team, date(2999, 1, 10), None),  # open, not yet due
    ]:
        decision_id = uuid.uuid4()
        await social_db.execute(
            "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
            " target_plan, decision, reason, object_by, status) VALUES ($1, 'ref', 'employment', 'Team',"
            " 'job-plan', 'approved', 'Reason', '2026-03-01', 'objected')",
            decision_id,
        )
        await social_db.execute(
            "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
            " social_position, rule_by, status, ruled_at) VALUES ($1, $2, 'ref', $3, 'E', 'S', $4, $5, $6)",
            uuid.uuid4(),
            decision_id,
            raised_by,
            rule_by,
            "open" if ruled_at is None else "ruled",
            ruled_at,
        )
    today = date(2026, 12, 1)
    mine = await social_kpis.read(social_db, MARCH, team, today)
    assert (mine.disputes_ruled.on_time, mine.disputes_ruled.late, mine.disputes_overdue_now) == (2, 1, 1)
    whole = await social_kpis.read(social_db, MARCH, None, today)
    assert (whole.disputes_ruled.on_time, whole.disputes_ruled.late) == (2, 2)


async def test_progress_reports_count_on_time_or_late_by_when_they_arrived(
    employment_db: asyncpg.Pool,
) -> None:
    for received_at, on_time in [
        (utc(2026, 3, 2, 9), True),
        (utc(2026, 3, 3, 9), True),
        (utc(2026, 3, 4, 9), False),
        (utc(2026, 3, 5, 9), None),  # received before due dates were tracked
        (utc(2026, 4, 2, 9), False),  # after the period
    ]:
        await employment_db.execute(
            "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id,"
            " source_event_id, details, received_at, on_time) VALUES ($1, 'progress-report', 'ref', $2,"
            " 'p', $2, '{}', $3, $4)",
            uuid.uuid4(),
            uuid.uuid4(),
            received_at,
            on_time,
        )
    assert await employment_kpis.progress_reports(employment_db, MARCH) == ProgressReports(on_time=2, late=1)
    assert await employment_kpis.progress_reports_overdue_now(employment_db, date(2026, 12, 1)) == 0
