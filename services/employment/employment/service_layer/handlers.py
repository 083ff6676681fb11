"""Handlers: one per command or event, each a plain function on one transaction's connection."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date

import structlog

from employment.adapters import repository
from employment.domain.tasks import (
    NewTask,
    plan_change_decision_task,
    progress_review_task,
    recontact_task_for_absence,
)
from employment.service_layer import course
from employment.service_layer.messages import DANISH_TIME, SOURCE, emit, emit_all
from employment.service_layer.plans import require_citizen
from employment.service_layer.progress_reports import ProgressRules, progress_report_received
from employment.service_layer.progress_reports import reporting_started as progress_reports_start
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, NotFound
from samspil.runtime.outbox import add_event
from schemas.base import EventData
from schemas.common import Department
from schemas.decisions import ReportOutcome, ReportReceived
from schemas.envelope import Envelope
from schemas.provider_reports import (
    AbsenceNoticeSubmitted,
    PlanChangeRequested,
    ProgressReportSubmitted,
    ProviderMeetingReported,
    ProviderReport,
    ReadinessReportSubmitted,
    TargetPlan,
)
from schemas.referrals import (
    DEFAULT_REPORTING_INTERVAL_DAYS,
    IllegalTransition,
    OfferKind,
    OfferStarted,
    ReasonCategory,
    ReferralCancelled,
    ReferralRequested,
    ReferralStarted,
    ReferralStatus,
    ReferralTransition,
    check_transition,
    outcome_category_of,
    reason_category_of,
)

log = structlog.get_logger("employment.handlers")


async def refer_citizen(
    conn: Connection, citizen_ref: str, referral: ReferralRequested, correlation_id: uuid.UUID
) -> None:
    """Refer a citizen to an offer at a provider; the provider sees it through the gateway, with
    the agreed interval of its progress reports (the first is due that long after the start)."""
    await require_citizen(conn, citizen_ref)
    interval = referral.reporting_interval_days or DEFAULT_REPORTING_INTERVAL_DAYS
    referral = referral.model_copy(update={"reporting_interval_days": interval})
    if not await repository.insert_referral(conn, citizen_ref, referral, interval):
        raise Conflict("A referral with this id exists", field="referral_id")
    await repository.set_referral_status(
        conn,
        referral.referral_id,
        ReferralStatus.REQUESTED,
        changed_by="jobcenter",
        occurred_on=date.today(),
        reason=None,
    )
    envelope = Envelope(
        source=SOURCE,
        type=referral.event_type,
        subject=citizen_ref,
        dataschema=referral.dataschema,
        correlationid=correlation_id,
    )
    await add_event(conn, envelope, referral)


class UnknownReferral(Exception):
    """A provider reported on a referral this service never made."""


class ReferralNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such referral", field="referral_id")


async def follow_provider_step(conn: Connection, envelope: Envelope, step: ReferralTransition) -> None:
    """Apply a step the provider took. A step that arrives after the jobcenter closed the
    referral (e.g. withdrew it meanwhile) is recorded nowhere: the jobcenter's decision stands,
    and the gateway applies the same rule, so both sides agree."""
    referral = await repository.referral(conn, step.referral_id, lock=True)
    if referral is None:
        raise UnknownReferral(str(step.referral_id))
    try:
        new_status = check_transition(ReferralStatus(referral["status"]), type(step))
    except IllegalTransition as illegal:
        log.warning("provider step ignored", referral_id=str(step.referral_id), status=illegal.current.value)
        return
    await repository.set_referral_status(
        conn,
        step.referral_id,
        new_status,
        changed_by="provider",
        occurred_on=step.occurred_on,
        reason=step.reason,
        reason_category=category.value if (category := reason_category_of(step)) else None,
        outcome_category=outcome.value if (outcome := outcome_category_of(step)) else None,
        source_event_id=envelope.id,
    )
    if isinstance(step, ReferralStarted):
        # The social department must be told which offer the citizen started.
        started = OfferStarted(
            referral_id=step.referral_id,
            provider_id=step.provider_id,
            offer_kind=OfferKind(referral["offer_kind"]),
            offer_title=referral["offer_title"],
            hours_per_week=float(referral["hours_per_week"]),
            started_on=step.occurred_on,
            expected_end_on=referral["expected_end_on"],
        )
        await emit(conn, started, envelope.subject, envelope)
        await progress_reports_start(conn, envelope, step.referral_id, step.occurred_on)


async def withdraw_referral(
    conn: Connection,
    referral_id: uuid.UUID,
    reason: str,
    on: date,
    citizen_ref: str | None = None,
    reason_category: ReasonCategory | None = None,
) -> str:
    """The jobcenter withdraws (cancels) a referral; the provider sees it through the gateway."""
    referral = await repository.referral(conn, referral_id, lock=True)
    if referral is None or (citizen_ref is not None and referral["citizen_ref"] != citizen_ref):
        raise ReferralNotFound
    try:
        new_status = check_transition(ReferralStatus(referral["status"]), ReferralCancelled)
    except IllegalTransition as illegal:
        raise Conflict(
            f"The referral is {illegal.current.value}",
            field="referral_id",
            current_status=illegal.current.value,
        ) from None
    cancelled = ReferralCancelled(
        referral_id=referral_id,
        provider_id=referral["provider_id"],
        occurred_on=on,
        reason=reason,
        reason_category=reason_category,
    )
    await repository.set_referral_status(
        conn,
        referral_id,
        new_status,
        changed_by="jobcenter",
        occurred_on=on,
        reason=reason,
        reason_category=reason_category.value if reason_category else None,
    )
    await emit(conn, cancelled, referral["citizen_ref"])
    return new_status


async def receive_report(
    conn: Connection,
    envelope: Envelope,
    report: ProviderReport,
    working_days: int,
    rules: course.CourseRules,
    progress: ProgressRules,
) -> None:
    """A provider's report reaches the jobcenter: it goes into the case history, becomes a task
    when the rules say the caseworker must act, and the provider learns what happened. A
    progress report also moves the referral's reporting schedule."""
    kind = REPORT_KINDS[type(report)]
    if not await repository.record_report(conn, envelope.id, envelope.subject, kind, report):
        return  # already received (a replay): nothing more to do
    if isinstance(report, ProgressReportSubmitted):
        await progress_report_received(conn, envelope, report, progress)
    if isinstance(report, ProviderMeetingReported):
        await course.provider_meeting(conn, envelope, report.held_on, report.provider_id, rules)
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    task = _task_for(report, received_on, working_days)
    if isinstance(report, PlanChangeRequested) and report.target_plan is TargetPlan.SOCIAL_PLAN:
        return  # the social team owns that plan and answers the provider
    if task is not None:
        task_id = await repository.insert_task_once(
            conn,
            task,
            citizen_ref=envelope.subject,
            referral_id=report.referral_id,
            provider_id=report.provider_id,
            source_event_id=envelope.id,
            source_time=envelope.time,
            details={
                "submission_id": str(report.submission_id),
                **report.model_dump(mode="json", exclude=_IDS),
            },
        )
        # At debug level: the consumer logs each batch's counts, and the task keeps its source event.
        log.debug(
            "task created from report",
            task_id=str(task_id),
            kind=task.kind.value,
            due_on=task.due_on.isoformat(),
        )
    received = ReportReceived(
        submission_id=report.submission_id,
        referral_id=report.referral_id,
        provider_id=report.provider_id,
        department=Department.EMPLOYMENT,
        outcome=ReportOutcome.TASK_CREATED if task else ReportOutcome.RECORDED,
        task_due_on=task.due_on if task else None,
    )
    await emit(conn, received, envelope.subject, envelope)


async def receive_reports(
    conn: Connection,
    reports: Sequence[tuple[Envelope, ProviderReport]],
    working_days: int,
    progress: ProgressRules,
) -> None:
    """:func:`receive_report` for many reports at once, in order, with the same effect: three
    statements for them all (the reports, their tasks, the answers to the providers), and for
    each progress report the few that move its referral's schedule. Not for a meeting report,
    which also moves the contact course."""
    new = await repository.record_reports(
        conn,
        [(envelope.id, envelope.subject, REPORT_KINDS[type(report)], report) for envelope, report in reports],
    )
    tasks: list[repository.SourcedTask] = []
    answers: list[tuple[EventData, str, Envelope]] = []
    for envelope, report in reports:
        if envelope.id not in new:
            continue  # already received (a replay): nothing more to do
        if isinstance(report, ProviderMeetingReported):
            raise TypeError("a meeting report is received one at a time (receive_report)")
        if isinstance(report, ProgressReportSubmitted):
            await progress_report_received(conn, envelope, report, progress)
        received_on = envelope.time.astimezone(DANISH_TIME).date()
        task = _task_for(report, received_on, working_days)
        if isinstance(report, PlanChangeRequested) and report.target_plan is TargetPlan.SOCIAL_PLAN:
            continue  # the social team owns that plan and answers the provider
        if task is not None:
            tasks.append(
                repository.SourcedTask(
                    task,
                    citizen_ref=envelope.subject,
                    referral_id=report.referral_id,
                    provider_id=report.provider_id,
                    source_event_id=envelope.id,
                    source_time=envelope.time,
                    details={
                        "submission_id": str(report.submission_id),
                        **report.model_dump(mode="json", exclude=_IDS),
                    },
                )
            )
        received = ReportReceived(
            submission_id=report.submission_id,
            referral_id=report.referral_id,
            provider_id=report.provider_id,
            department=Department.EMPLOYMENT,
            outcome=ReportOutcome.TASK_CREATED if task else ReportOutcome.RECORDED,
            task_due_on=task.due_on if task else None,
        )
        answers.append((received, envelope.subject, envelope))
    created = await repository.insert_tasks_once(conn, tasks)
    # At debug level: the consumer logs each batch's counts, and each task keeps its source event.
    for sourced in tasks if created and _debug_enabled() else ():
        if sourced.source_event_id in created:
            log.debug(
                "task created from report",
                task_id=str(created[sourced.source_event_id]),
                kind=sourced.task.kind.value,
                due_on=sourced.task.due_on.isoformat(),
                event_id=str(sourced.source_event_id),
            )
    await emit_all(conn, answers)


_IDS = {"submission_id", "referral_id", "provider_id"}


def _debug_enabled() -> bool:
    return logging.getLogger("employment.handlers").isEnabledFor(logging.DEBUG)


REPORT_KINDS: dict[type[ProviderReport], str] = {
    AbsenceNoticeSubmitted: "absence-notice",
    ProgressReportSubmitted: "progress-report",
    ReadinessReportSubmitted: "readiness-report",
    PlanChangeRequested: "plan-change-request",
    ProviderMeetingReported: "meeting",
}


def _task_for(report: ProviderReport, received_on: date, working_days: int) -> NewTask | None:
    if isinstance(report, AbsenceNoticeSubmitted):
        return recontact_task_for_absence(received_on, working_days)
    if isinstance(report, ProgressReportSubmitted):
        return progress_review_task(received_on, report.recommendation.value, report.concern, working_days)
    if isinstance(report, PlanChangeRequested) and report.target_plan is TargetPlan.JOB_PLAN:
        return plan_change_decision_task(received_on, report.urgency.value)
    return None
