"""The jobcenter's side of the plan-change protocol: its decisions stay provisional while the social
team may object; a dispute, the specialist unit's ruling and the final outcome come from the
social department's events and are kept with the decision, so both sides see the same state."""

from __future__ import annotations

from typing import Any

import structlog

from employment.adapters import repository
from employment.domain.tasks import NewTask, TaskKind, add_working_days
from employment.service_layer.messages import DANISH_TIME
from samspil.runtime.db import Connection
from schemas.disputes import (
    DisputeOverdue,
    DisputeRaised,
    DisputeRuled,
    PlanChangeDecisionFinal,
    RulingOutcome,
)
from schemas.envelope import Envelope

log = structlog.get_logger("employment.protocol")


async def _task(conn: Connection, envelope: Envelope, task: NewTask, details: dict[str, Any]) -> None:
    await repository.insert_task_once(
        conn,
        task,
        citizen_ref=envelope.subject,
        referral_id=None,
        provider_id=None,
        source_event_id=envelope.id,
        source_time=envelope.time,
        details=details,
    )


async def dispute_raised(conn: Connection, envelope: Envelope, raised: DisputeRaised) -> None:
    """The social team objected to one of the jobcenter's decisions: the specialist unit rules."""
    decision_id = await conn.fetchval(
        "UPDATE plan_change_decision SET status = 'disputed', dispute_id = $2, social_position = $3,"
        " rule_by = $4 WHERE decision_id = $1 AND status = 'provisional' RETURNING decision_id",
        raised.decision_id,
        raised.dispute_id,
        raised.social_position,
        raised.rule_by,
    )
    if decision_id is None:
        log.warning("dispute about no provisional decision of ours", decision_id=str(raised.decision_id))
        return
    task = NewTask(
        kind=TaskKind.FOLLOW_DISPUTE,
        title="The social team objected to the decision: the joint specialist unit rules",
        due_on=raised.rule_by,
    )
    details = {
        "decision_id": str(raised.decision_id),
        "dispute_id": str(raised.dispute_id),
        "social_position": raised.social_position,
        "rule_by": raised.rule_by.isoformat(),
    }
    await _task(conn, envelope, task, details)


async def dispute_ruled(conn: Connection, envelope: Envelope, ruled: DisputeRuled) -> None:
    """The specialist unit ruled: the ruling is kept with the decision, and unless it upheld the
    jobcenter's position the team brings the job plan in line with it."""
    decision_id = await conn.fetchval(
        "UPDATE plan_change_decision SET ruling_outcome = $2, ruling = $3 WHERE dispute_id = $1"
        " RETURNING decision_id",
        ruled.dispute_id,
        ruled.outcome.value,
        ruled.ruling,
    )
    if decision_id is None:
        log.warning("ruling on no dispute of ours", dispute_id=str(ruled.dispute_id))
        return
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = clock_timestamp(),"
        " closed_by = 'specialist unit', close_note = $2"
        " WHERE kind = 'follow-dispute' AND status = 'open' AND details->>'dispute_id' = $1",
        str(ruled.dispute_id),
        ruled.ruling,
    )
    if ruled.outcome is not RulingOutcome.EMPLOYMENT_POSITION:
        received_on = envelope.time.astimezone(DANISH_TIME).date()
        task = NewTask(
            kind=TaskKind.APPLY_RULING,
            title="The specialist unit ruled: bring the job plan in line with the ruling",
            due_on=add_working_days(received_on, 5),
        )
        details = {
            "dispute_id": str(ruled.dispute_id),
            "outcome": ruled.outcome.value,
            "ruling": ruled.ruling,
        }
        await _task(conn, envelope, task, details)


async def decision_final(conn: Connection, envelope: Envelope, final: PlanChangeDecisionFinal) -> None:
    await conn.execute(
        "UPDATE plan_change_decision SET status = 'final', final_via = $2, final_outcome = $3,"
        " final_summary = $4 WHERE decision_id = $1",
        final.decision_id,
        final.via.value,
        final.outcome.value,
        final.summary,
    )


async def dispute_overdue(conn: Connection, envelope: Envelope, overdue: DisputeOverdue) -> None:
    """The specialist unit has not ruled in time: the jobcenter's team is told too."""
    task = NewTask(
        kind=TaskKind.DISPUTE_OVERDUE,
        title="The specialist unit's ruling is overdue",
        due_on=envelope.time.astimezone(DANISH_TIME).date(),
    )
    details = {"dispute_id": str(overdue.dispute_id), "rule_by": overdue.rule_by.isoformat()}
    await _task(conn, envelope, task, details)
