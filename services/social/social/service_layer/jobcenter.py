"""What the jobcenter tells the social department: the offers the citizen started, the job plan
summary (kept only with its basis), and conflicts between the two plans."""

from __future__ import annotations

import structlog

from samspil.runtime.db import Connection
from schemas.disputes import PlanConflictDetected
from schemas.envelope import Envelope
from schemas.plans import JobPlanRevised
from schemas.referrals import OfferStarted
from social.adapters import cases, repository
from social.domain.tasks import plan_conflict_task
from social.service_layer.messages import DANISH_TIME

log = structlog.get_logger("social.case")


async def offer_started(conn: Connection, envelope: Envelope, started: OfferStarted) -> None:
    """The social caseworker sees which employment offer the citizen started."""
    await cases.insert_offer_started(conn, envelope.subject, started)


async def job_plan_revised(conn: Connection, envelope: Envelope, revised: JobPlanRevised) -> None:
    """Keep the job plan summary, only when its event names the basis for the share."""
    if not envelope.legalbasis:
        log.warning("job plan summary without a legal basis not kept")
        return
    await cases.keep_job_plan_summary(conn, envelope.subject, revised, envelope.legalbasis)


async def plan_conflict_detected(
    conn: Connection, envelope: Envelope, conflict: PlanConflictDetected, working_days: int
) -> None:
    """The plans pull against each other: the social team gets its task too."""
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    details = {
        "conflict_id": str(conflict.conflict_id),
        "rule": conflict.rule.value,
        "explanation": conflict.explanation,
        "job_plan_version": conflict.job_plan_version,
        "social_plan_version": conflict.social_plan_version,
    }
    await repository.insert_task(
        conn,
        envelope.subject,
        plan_conflict_task(received_on, working_days),
        details,
        source_event_id=envelope.id,
    )
