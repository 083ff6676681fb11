"""Gateway handlers: record what providers send, keep the referral view up to date."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import structlog

from provider_gateway.adapters import repository
from provider_gateway.domain.shares import ShareVerdict, StoredShare, judge_share
from provider_gateway.domain.submissions import (
    AnswerVerdict,
    DepartmentAnswer,
    SubmissionState,
    SubmissionStatus,
    reached_by_acknowledgement,
    take_answer,
)
from provider_gateway.domain.webhooks import FeedKind
from samspil.runtime.db import Connection
from schemas.consent import MeasuresSharedWithProvider, ProviderShareEnded
from schemas.decisions import AbsenceAssessed, PlanChangeDecided, ReportReceived
from schemas.disputes import PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.provider_reports import TargetPlan
from schemas.referrals import (
    ProgressReportDueSoon,
    ProgressReportOverdue,
    ProgressReportScheduled,
    ReferralCancelled,
    ReferralRequested,
    ReferralStatus,
)

SOURCE = "/samspil/provider-gateway"

log = structlog.get_logger("provider_gateway.handlers")


async def record_referral(conn: Connection, envelope: Envelope, referral: ReferralRequested) -> None:
    await repository.upsert_referral(conn, envelope.subject, referral)
    await _to_feed(conn, referral.provider_id, FeedKind.REFERRAL_REQUESTED, referral_id=referral.referral_id)
    await repository.set_referral_status(
        conn, referral.referral_id, ReferralStatus.REQUESTED, "jobcenter", envelope.time.date(), None
    )


async def record_cancellation_by_jobcenter(
    conn: Connection, envelope: Envelope, cancelled: ReferralCancelled
) -> None:
    """The jobcenter owns the referral: its cancellation stands even over a step the provider
    took meanwhile, so both sides end in the same state."""
    referral = await repository.referral_by_id(conn, cancelled.referral_id)
    if referral is None or referral["status"] == ReferralStatus.CANCELLED:
        return
    category = cancelled.reason_category.value if cancelled.reason_category else None
    await repository.set_referral_status(
        conn,
        cancelled.referral_id,
        ReferralStatus.CANCELLED,
        "jobcenter",
        cancelled.occurred_on,
        cancelled.reason,
        category,
    )
    await _to_feed(
        conn,
        referral["provider_id"],
        FeedKind.REFERRAL_CANCELLED,
        referral_id=cancelled.referral_id,
        data={"reason": cancelled.reason, "reason_category": category},
    )


async def record_progress_schedule(
    conn: Connection, envelope: Envelope, scheduled: ProgressReportScheduled
) -> None:
    """The jobcenter set when the next progress report is due (a report arrived, clearing any
    overdue mark, or the interval changed, which moves the mark to the day after the new due date
    or clears it when that date is not past): the provider sees both as the jobcenter keeps them."""
    await repository.set_progress_schedule(
        conn,
        scheduled.referral_id,
        interval_days=scheduled.reporting_interval_days,
        due_on=scheduled.due_on,
        overdue_since=scheduled.overdue_since,
    )


async def record_progress_due_soon(conn: Connection, envelope: Envelope, due: ProgressReportDueSoon) -> None:
    """A progress report is due in a few days: the provider is reminded in its feed."""
    await _to_feed(
        conn,
        due.provider_id,
        FeedKind.PROGRESS_REPORT_DUE,
        referral_id=due.referral_id,
        data={"due_on": due.due_on.isoformat(), "days_left": due.days_left},
    )


async def record_progress_overdue(
    conn: Connection, envelope: Envelope, overdue: ProgressReportOverdue
) -> None:
    """A progress report did not arrive by its due date: the referral is marked overdue from the
    day after it (as the jobcenter marks it) until the next report, and the provider is told in
    its feed (once per awaited report: the jobcenter announces it once)."""
    await repository.set_progress_schedule(
        conn,
        overdue.referral_id,
        due_on=overdue.due_on,
        overdue_since=overdue.due_on + timedelta(days=1),
    )
    await _to_feed(
        conn,
        overdue.provider_id,
        FeedKind.PROGRESS_REPORT_OVERDUE,
        referral_id=overdue.referral_id,
        data={"due_on": overdue.due_on.isoformat()},
    )


async def record_acknowledgement(conn: Connection, envelope: Envelope, received: ReportReceived) -> None:
    """A department tells what it did with a submission: the provider sees it on the submission."""
    await _tell_provider(conn, _acknowledgement(received))


async def record_decision(
    conn: Connection, envelope: Envelope, decided: PlanChangeDecided | AbsenceAssessed
) -> None:
    """A department decided on what the provider sent: the provider sees the decision and its
    reason on the submission and in its feed. A decision on nothing the provider sent (made
    on the department's own initiative) is not the provider's to see.

    A plan-change decision is provisional: the other department's team may still object, and
    the provider is told so (``final`` false) until the decision becomes final. An absence
    assessment is final as made: no objection applies to it."""
    answer = _decision(decided)
    if answer is not None:
        await _tell_provider(conn, answer)


async def record_final_outcome(conn: Connection, envelope: Envelope, final: PlanChangeDecisionFinal) -> None:
    """A plan-change decision became final, unopposed or as the joint specialist unit ruled: the
    provider who asked sees what now holds on the submission and in its feed. A submission has
    one final outcome; should another arrive for it, the first stands."""
    answer = _final_outcome(final)
    if answer is not None:
        await _tell_provider(conn, answer)


async def record_department_answers(conn: Connection, events: Sequence[tuple[Envelope, Any]]) -> None:
    """The set-wise twin of `record_acknowledgement`, `record_decision` and
    `record_final_outcome` for a run of their events (consumer.BatchHandler): the same effect as
    each handled in turn, in two statements whatever the run's length. The run's submissions are
    locked and read at once, the answers judged in order against them as each earlier one left
    them (two answers to one submission in a run see each other), then the submissions are
    updated and the feed entries written, in the run's order, at once."""
    answers: list[tuple[Envelope, DepartmentAnswer]] = []
    for envelope, data in events:
        with _about(envelope):
            answer = _answer_to(data)
        if answer is not None:
            answers.append((envelope, answer))
    if not answers:
        return
    rows = await repository.submissions_for_update(conn, [answer.submission_id for _, answer in answers])
    submissions = {row["submission_id"]: _state(row) for row in rows}
    shown: dict[uuid.UUID, list[dict[str, Any]]] = {}
    feed: list[repository.FeedEntry] = []
    for envelope, answer in answers:
        submission = submissions.get(answer.submission_id)
        verdict = take_answer(submission, answer)
        with _about(envelope):
            _log_verdict(verdict, answer)
        if verdict is AnswerVerdict.SHOWN:
            assert submission is not None
            shown.setdefault(answer.submission_id, []).append(answer.entry)
            feed.append(
                repository.FeedEntry(
                    submission.provider_id,
                    answer.feed_kind,
                    submission.referral_id,
                    answer.submission_id,
                    answer.entry,
                )
            )
    if feed:
        await repository.add_acknowledgements(
            conn,
            [
                repository.Acknowledged(submission_id, entries, submissions[submission_id].status)
                for submission_id, entries in shown.items()
            ],
            feed,
        )


def _about(envelope: Envelope) -> AbstractContextManager[None]:
    """What the consumer binds for an event handled alone, for the log lines of one in a run."""
    return structlog.contextvars.bound_contextvars(
        event_id=str(envelope.id), event_type=envelope.type, correlation_id=str(envelope.correlationid)
    )


def _answer_to(data: Any) -> DepartmentAnswer | None:
    if isinstance(data, ReportReceived):
        return _acknowledgement(data)
    if isinstance(data, PlanChangeDecided | AbsenceAssessed):
        return _decision(data)
    if isinstance(data, PlanChangeDecisionFinal):
        return _final_outcome(data)
    raise TypeError(f"not a department's answer to a submission: {type(data).__name__}")


def _acknowledgement(received: ReportReceived) -> DepartmentAnswer:
    department, outcome = received.department.value, received.outcome.value
    return DepartmentAnswer(
        received.submission_id,
        received.provider_id,
        received.model_dump(mode="json", include={"department", "outcome", "task_due_on"}),
        reached=lambda report_kind: reached_by_acknowledgement(report_kind, department, outcome),
        feed_kind=FeedKind.SUBMISSION_ACKNOWLEDGED,
    )


def _decision(decided: PlanChangeDecided | AbsenceAssessed) -> DepartmentAnswer | None:
    if decided.submission_id is None or decided.provider_id is None:
        return None
    entry: dict[str, Any]
    if isinstance(decided, PlanChangeDecided):
        entry = {
            "department": decided.deciding_team.department.value,
            "outcome": "decided",
            "final": False,
            "decision": decided.decision.value,
            # A social-plan decision's reasoning is social-plan detail: the provider learns the
            # decision, not why.
            "reason": decided.reason if decided.target_plan is TargetPlan.JOB_PLAN else None,
        }
    else:
        entry = {
            "department": "employment",
            "outcome": "decided",
            "final": True,
            "decision": "acceptable" if decided.acceptable else "not-acceptable",
            "reason": decided.note,
        }
    return DepartmentAnswer(
        decided.submission_id,
        decided.provider_id,
        entry,
        reached=SubmissionStatus.FINAL if entry["final"] else SubmissionStatus.ACTED_ON,
        feed_kind=FeedKind.SUBMISSION_DECIDED,
    )


def _final_outcome(final: PlanChangeDecisionFinal) -> DepartmentAnswer | None:
    if final.submission_id is None:
        log.info(
            "final outcome of a decision no provider asked for, not shown", decision_id=str(final.decision_id)
        )
        return None
    entry = {
        "department": final.target_plan.department.value,
        "outcome": "final",
        "final": True,
        "via": final.via.value,
        "decision": final.outcome.value,
        # As with the decision's reason: what holds in a social plan is social-plan detail.
        "summary": final.summary if final.target_plan is TargetPlan.JOB_PLAN else None,
    }
    return DepartmentAnswer(
        final.submission_id,
        final.provider_id,
        entry,
        reached=SubmissionStatus.FINAL,
        feed_kind=FeedKind.SUBMISSION_FINAL,
        same_as={"outcome": "final"},
    )


async def record_measures_shared(
    conn: Connection, envelope: Envelope, shared: MeasuresSharedWithProvider
) -> None:
    """The citizen consented to let the provider see their social measures: keep them for the
    provider's view of its referrals, in place of what the same consent shared before. Kept only
    when the event names that consent as its basis; never once the consent has ended."""
    if envelope.legalbasis != f"consent:{shared.consent_id}":
        log.warning(
            "social measures for a provider without their consent as basis, not kept",
            consent_id=str(shared.consent_id),
        )
        return
    row = await repository.share_for_update(conn, shared.consent_id)
    stored = (
        None
        if row is None
        else StoredShare(
            row["citizen_ref"], row["provider_id"], row["plan_version"], row["ended_on"] is not None
        )
    )
    verdict = judge_share(stored, envelope.subject, shared.provider_id, shared.plan_version)
    if verdict is not ShareVerdict.STORE:
        log.warning(
            "social measures for a provider not kept",
            consent_id=str(shared.consent_id),
            verdict=verdict.value,
            plan_version=shared.plan_version,
        )
        return
    await repository.store_share(
        conn,
        shared.consent_id,
        envelope.subject,
        shared.provider_id,
        shared.plan_version,
        [measure.model_dump(mode="json") for measure in shared.measures],
        shared.shared_until,
    )


async def record_share_ended(conn: Connection, envelope: Envelope, ended: ProviderShareEnded) -> None:
    """The consent was withdrawn or expired: the provider no longer sees the measures, and the
    gateway's copy of them goes. Ending is always safe, so no basis is asked for."""
    if not await repository.end_share(
        conn, ended.consent_id, envelope.subject, ended.provider_id, ended.ended_on, ended.reason.value
    ):
        log.info("share with a provider had ended already", consent_id=str(ended.consent_id))


async def _tell_provider(conn: Connection, answer: DepartmentAnswer) -> None:
    """Add what a department did to the provider's submission, and to its feed, once: not again
    if an acknowledgement matching ``same_as`` (by default the entry itself) is already there,
    as when a department publishes the same fact anew."""
    row = await repository.submission_for_update(conn, answer.submission_id)
    submission = None if row is None else _state(row)
    verdict = take_answer(submission, answer)
    _log_verdict(verdict, answer)
    if verdict is not AnswerVerdict.SHOWN:
        return
    assert submission is not None
    await repository.add_acknowledgement(conn, answer.submission_id, answer.entry, submission.status)
    await _to_feed(
        conn,
        submission.provider_id,
        FeedKind(answer.feed_kind),
        referral_id=submission.referral_id,
        submission_id=answer.submission_id,
        data=answer.entry,
    )


def _state(row: Any) -> SubmissionState:
    """A submission row as `take_answer` judges an answer against it."""
    return SubmissionState(
        row["provider_id"],
        row["referral_id"],
        row["kind"],
        SubmissionStatus(row["status"]),
        json.loads(row["acknowledgements"]),
    )


def _log_verdict(verdict: AnswerVerdict, answer: DepartmentAnswer) -> None:
    about = {"submission_id": str(answer.submission_id), "kind": answer.feed_kind}
    if verdict is AnswerVerdict.NOT_OURS:
        log.warning("acknowledgement for a submission not ours, ignored", **about)
    elif verdict is AnswerVerdict.ALREADY_SHOWN:
        log.info("acknowledgement already on the submission", **about)
    elif verdict is AnswerVerdict.ANOTHER_STANDS:
        log.warning(
            "a different acknowledgement of this kind is already on the submission; the first stands", **about
        )


async def _to_feed(
    conn: Connection,
    provider_id: str,
    kind: FeedKind,
    *,
    referral_id: uuid.UUID | None = None,
    submission_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """The one place a feed entry is written one at a time; `record_department_answers` writes
    its run's at once (`repository.add_acknowledgements`). What reacts to new entries hooks on
    the table's row triggers (webhooks, the position at commit), which both fire."""
    await repository.insert_feed_entry(conn, provider_id, kind, referral_id, submission_id, data or {})
