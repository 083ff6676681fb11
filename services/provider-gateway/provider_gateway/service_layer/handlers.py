"""Gateway handlers: record what providers send, keep the referral view up to date."""

from __future__ import annotations

import json
import uuid
from typing import Any

from provider_gateway.adapters import repository
from provider_gateway.domain.lifecycle import check_transition
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.decisions import AbsenceAssessed, PlanChangeDecided, ReportOutcome, ReportReceived
from schemas.envelope import Envelope
from schemas.provider_reports import ProviderReport, TargetPlan
from schemas.referrals import (
    CLOSED_STATUSES,
    ReferralCancelled,
    ReferralRequested,
    ReferralStatus,
    ReferralTransition,
)
from schemas.topics import PROVIDER_REPORTS

SOURCE = "/samspil/provider-gateway"


class ReferralNotFound(Exception):
    """No such referral for this provider (whether it exists for another is not told)."""


class ReferralClosed(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def record_referral(conn: Connection, envelope: Envelope, referral: ReferralRequested) -> None:
    await repository.upsert_referral(conn, envelope.subject, referral)
    await _to_feed(conn, referral.provider_id, "referral-requested", referral_id=referral.referral_id)
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
    await repository.set_referral_status(
        conn,
        cancelled.referral_id,
        ReferralStatus.CANCELLED,
        "jobcenter",
        cancelled.occurred_on,
        cancelled.reason,
    )
    await _to_feed(
        conn,
        referral["provider_id"],
        "referral-cancelled",
        referral_id=cancelled.referral_id,
        data={"reason": cancelled.reason},
    )


async def take_step(
    conn: Connection,
    provider_id: str,
    referral_id: uuid.UUID,
    step: type[ReferralTransition],
    details: dict[str, Any],
) -> ReferralStatus:
    """The provider takes a step in the referral's lifecycle; the jobcenter hears of it through
    the outbox, in the same transaction."""
    referral = await repository.referral_for_provider(conn, referral_id, provider_id, lock=True)
    if referral is None:
        raise ReferralNotFound
    new_status = check_transition(ReferralStatus(referral["status"]), step)
    event = step(referral_id=referral_id, provider_id=provider_id, **details)
    await repository.set_referral_status(
        conn, referral_id, new_status, "provider", event.occurred_on, event.reason
    )
    envelope = Envelope(
        source=SOURCE,
        type=event.event_type,
        subject=referral["citizen_ref"],
        dataschema=event.dataschema,
        correlationid=uuid.uuid4(),
    )
    await add_event(conn, envelope, event, topic=PROVIDER_REPORTS.name)
    return new_status


async def submit_report(conn: Connection, provider_id: str, kind: str, report: ProviderReport) -> str:
    """Record the provider's report and put it in the outbox, in one transaction. Returns the
    citizen reference (for the audit trail, never for the provider)."""
    referral = await repository.referral_for_provider(conn, report.referral_id, provider_id, lock=True)
    if referral is None:
        raise ReferralNotFound
    if referral["status"] in CLOSED_STATUSES:
        raise ReferralClosed(referral["status"])
    await repository.insert_submission(conn, report.submission_id, provider_id, report.referral_id, kind)
    envelope = Envelope(
        source=SOURCE,
        type=report.event_type,
        subject=referral["citizen_ref"],
        dataschema=report.dataschema,
        correlationid=report.submission_id,
    )
    await add_event(conn, envelope, report)
    citizen_ref: str = referral["citizen_ref"]
    return citizen_ref


async def record_acknowledgement(conn: Connection, envelope: Envelope, received: ReportReceived) -> None:
    """A department tells what it did with a submission: the provider sees it on the submission."""
    await _tell_provider(
        conn,
        received.provider_id,
        received.referral_id,
        received.submission_id,
        received.model_dump(mode="json", include={"department", "outcome", "task_due_on"}),
        acted_on=received.outcome is ReportOutcome.TASK_CREATED,
        kind="submission-acknowledged",
    )


async def record_decision(
    conn: Connection, envelope: Envelope, decided: PlanChangeDecided | AbsenceAssessed
) -> None:
    """A department decided on what the provider sent: the provider sees the decision and its
    reason on the submission and in its feed. A decision on nothing the provider sent (made
    on the department's own initiative) is not the provider's to see."""
    if decided.submission_id is None or decided.provider_id is None:
        return
    entry: dict[str, Any]
    if isinstance(decided, PlanChangeDecided):
        entry = {
            "department": decided.deciding_team.department.value,
            "outcome": "decided",
            "decision": decided.decision.value,
            # A social-plan decision's reasoning is social-plan detail: the provider learns the
            # decision, not why.
            "reason": decided.reason if decided.target_plan is TargetPlan.JOB_PLAN else None,
        }
    else:
        entry = {
            "department": "employment",
            "outcome": "decided",
            "decision": "acceptable" if decided.acceptable else "not-acceptable",
            "reason": decided.note,
        }
    await _tell_provider(
        conn,
        decided.provider_id,
        decided.referral_id,
        decided.submission_id,
        entry,
        acted_on=True,
        kind="submission-decided",
    )


async def _tell_provider(
    conn: Connection,
    provider_id: str,
    referral_id: uuid.UUID | None,
    submission_id: uuid.UUID,
    entry: dict[str, Any],
    *,
    acted_on: bool,
    kind: str,
) -> None:
    """Add what a department did to the provider's submission, and to its feed, once."""
    status = await conn.execute(
        "UPDATE submission SET acknowledgements = acknowledgements || $2::jsonb,"
        " status = CASE WHEN $4 OR status = 'acted-on' THEN 'acted-on' ELSE 'delivered' END,"
        " updated_at = now()"
        " WHERE submission_id = $1 AND provider_id = $3 AND NOT acknowledgements @> $2::jsonb",
        submission_id,
        json.dumps([entry]),
        provider_id,
        acted_on,
    )
    if status.endswith(" 1"):
        await _to_feed(
            conn, provider_id, kind, referral_id=referral_id, submission_id=submission_id, data=entry
        )


async def _to_feed(
    conn: Connection,
    provider_id: str,
    kind: str,
    *,
    referral_id: uuid.UUID | None = None,
    submission_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO provider_feed (provider_id, kind, referral_id, submission_id, data)"
        " VALUES ($1, $2, $3, $4, $5::jsonb)",
        provider_id,
        kind,
        referral_id,
        submission_id,
        json.dumps(data or {}),
    )


def new_submission_id() -> uuid.UUID:
    return uuid.uuid4()
