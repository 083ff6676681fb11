"""Handlers of the progress reports a provider owes on a referral: the schedule set when
referring, a report received, the interval changed, and the scheduler that reminds the provider
and raises a task when a report is overdue (the rule: `employment.domain.progress_reports`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg
import structlog

from employment.adapters import progress_reports as adapter
from employment.adapters import repository
from employment.domain.progress_reports import ProgressAlarmKind, ReportingSchedule
from employment.domain.tasks import overdue_progress_report_task
from employment.service_layer.messages import DANISH_TIME, SHARED_BY_SYSTEM, emit
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, NotFound
from schemas.envelope import Envelope
from schemas.provider_reports import ProgressReportSubmitted
from schemas.referrals import (
    CLOSED_STATUSES,
    ProgressReportDueSoon,
    ProgressReportOverdue,
    ProgressReportScheduled,
)

log = structlog.get_logger("employment.progress_reports")


@dataclass(frozen=True)
class ProgressRules:
    """The configurable parts: how many days before the due date the provider is reminded, and
    how long the caseworker has to chase an overdue report."""

    notice_days: int = 5
    task_working_days: int = 3


def _scheduled(referral: adapter.TrackedReferral, schedule: ReportingSchedule) -> ProgressReportScheduled:
    return ProgressReportScheduled(
        referral_id=referral.referral_id,
        provider_id=referral.provider_id,
        reporting_interval_days=schedule.interval_days,
        due_on=schedule.due_on,
        overdue_since=schedule.overdue_since,
    )


async def reporting_started(
    conn: Connection, cause: Envelope, referral_id: uuid.UUID, started_on: date
) -> None:
    """The citizen started the offer: the first progress report is due an interval later. The
    scheduler looks at the referral at its next round, and from then on when its day comes."""
    referral = await adapter.referral_for_update(conn, referral_id)
    if referral is None or referral.schedule is not None:
        return
    schedule = ReportingSchedule.starting(started_on, referral.interval_days)
    await adapter.save_schedule(conn, referral_id, schedule, alarm_on=started_on)
    await emit(conn, _scheduled(referral, schedule), referral.citizen_ref, cause)


async def progress_report_received(
    conn: Connection, envelope: Envelope, report: ProgressReportSubmitted, rules: ProgressRules
) -> None:
    """A progress report arrived (once: the caller saw it new): record whether it was on time,
    clear the referral's mark, close every task chasing a report on the referral, and move the
    next due date."""
    referral = await adapter.referral_for_update(conn, report.referral_id)
    if referral is None or referral.schedule is None or referral.status in CLOSED_STATUSES:
        return
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    before = referral.schedule
    after, on_time = before.report_received(received_on)
    await adapter.record_timeliness(conn, report.submission_id, before.due_on, on_time)
    await adapter.close_chase_tasks(
        conn,
        referral.referral_id,
        closed_by=SHARED_BY_SYSTEM,
        note=f"The progress report arrived on {received_on.isoformat()}.",
    )
    await adapter.save_schedule(conn, referral.referral_id, after, after.next_alarm_on(rules.notice_days))
    await emit(conn, _scheduled(referral, after), referral.citizen_ref, envelope)
    log.info("progress report received", on_time=on_time, next_due_on=after.due_on.isoformat())


async def change_reporting_interval(
    conn: Connection, referral_id: uuid.UUID, interval_days: int, rules: ProgressRules, today: date
) -> None:
    """The jobcenter agrees a new interval: the report awaited is due that long after its period
    began; the provider sees the new due date and whether the report is overdue. A report
    announced overdue whose new due date is today or later is no longer chased: its task closes."""
    referral = await adapter.referral_for_update(conn, referral_id)
    if referral is None:
        raise NotFound("No such referral", field="referral_id")
    if referral.status in CLOSED_STATUSES:
        raise Conflict(
            f"The referral is {referral.status}: it awaits no progress report",
            field="referral_id",
            current_status=referral.status,
        )
    if referral.schedule is None:  # not started: only the interval is agreed so far
        await adapter.save_interval(conn, referral_id, interval_days)
        not_started = ProgressReportScheduled(
            referral_id=referral_id, provider_id=referral.provider_id, reporting_interval_days=interval_days
        )
        await emit(conn, not_started, referral.citizen_ref)
        return
    before = referral.schedule
    schedule = before.interval_changed(interval_days, today)
    if before.announced_overdue and not schedule.announced_overdue:
        await adapter.close_chase_tasks(
            conn,
            referral_id,
            closed_by=SHARED_BY_SYSTEM,
            note=f"The interval changed: the progress report is now due {schedule.due_on.isoformat()}.",
        )
    await adapter.save_schedule(conn, referral_id, schedule, schedule.next_alarm_on(rules.notice_days))
    await emit(conn, _scheduled(referral, schedule), referral.citizen_ref)


async def announce_progress_reports(
    pool: asyncpg.Pool, today: date, rules: ProgressRules, batch: int = 200
) -> int:
    """Remind providers of reports due soon (once per due date) and announce overdue ones (once
    per awaited report):
    each referral is claimed with FOR UPDATE SKIP LOCKED and what was announced is recorded in
    the same transaction as the outbox event and the task, across restarts and replicas."""
    announced = 0
    while True:
        announced_before = announced
        async with pool.acquire() as conn, conn.transaction():
            claimed = await adapter.claim_alarms(conn, today, batch)
            for referral in claimed:
                schedule = referral.schedule
                if schedule is None or referral.status in CLOSED_STATUSES:
                    await adapter.stop_alarms(conn, referral.referral_id)
                    continue
                alarm = schedule.alarm(today, rules.notice_days)
                if alarm is not None:
                    schedule = schedule.announced(alarm)
                    if alarm.kind is ProgressAlarmKind.OVERDUE:
                        await _raise_overdue(conn, referral, alarm.due_on, today, rules)
                    else:
                        due_soon = ProgressReportDueSoon(
                            referral_id=referral.referral_id,
                            provider_id=referral.provider_id,
                            due_on=alarm.due_on,
                            days_left=alarm.days_left,
                        )
                        await emit(conn, due_soon, referral.citizen_ref)
                    announced += 1
                await adapter.save_schedule(
                    conn, referral.referral_id, schedule, schedule.next_alarm_on(rules.notice_days)
                )
        if len(claimed) < batch or announced == announced_before:
            return announced


async def _raise_overdue(
    conn: Connection, referral: adapter.TrackedReferral, due_on: date, today: date, rules: ProgressRules
) -> None:
    """The overdue announcement and its one chase task (made from the announcement's event): the
    referral's row, claimed and marked in the same transaction, keeps a replica or a rerun from
    announcing the same awaited report again."""
    task = overdue_progress_report_task(today, due_on, rules.task_working_days)
    overdue = ProgressReportOverdue(
        referral_id=referral.referral_id, provider_id=referral.provider_id, due_on=due_on
    )
    envelope = await emit(conn, overdue, referral.citizen_ref)
    await repository.insert_task_once(
        conn,
        task,
        citizen_ref=referral.citizen_ref,
        referral_id=referral.referral_id,
        provider_id=referral.provider_id,
        source_event_id=envelope.id,
        source_time=envelope.time,
        details={"referral_id": str(referral.referral_id), "report_due_on": due_on.isoformat()},
    )
