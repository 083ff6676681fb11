"""The social department's own readiness assessment: it answers the providers' readiness reports
that waited for it."""

from __future__ import annotations

from samspil.runtime.db import Connection
from schemas.commands import AssessReadiness
from social.adapters import cases, repository
from social.domain.readiness import report_completed
from social.domain.tasks import READINESS_TASK_KIND
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import Actor, emit


async def assess_readiness(
    conn: Connection, citizen_ref: str, command: AssessReadiness, actor: Actor
) -> None:
    await require_citizen(conn, citizen_ref)
    await cases.insert_readiness_assessment(conn, citizen_ref, command.ready, command.assessment, actor.name)
    # The assessment answers the readiness reports that waited for it: their tasks close, and
    # each provider learns that the social department's work on its report is done.
    answered = await repository.close_report_tasks(conn, citizen_ref, READINESS_TASK_KIND, actor.name)
    for report in answered:
        completed = report_completed(report["submission_id"], report["referral_id"], report["provider_id"])
        await emit(conn, completed, citizen_ref)
