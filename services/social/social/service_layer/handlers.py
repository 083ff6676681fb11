"""Social handlers: each a plain function on one transaction's connection."""

from __future__ import annotations

import json
import uuid
from zoneinfo import ZoneInfo

from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.common import Department
from schemas.decisions import ReportOutcome, ReportReceived
from schemas.envelope import Envelope
from schemas.provider_reports import PlanChangeRequested, ProviderReport, ReadinessReportSubmitted, TargetPlan
from schemas.topics import SOCIAL_EVENTS
from social.domain.tasks import NewTask, readiness_task, social_plan_change_task

SOURCE = "/samspil/social"
DANISH_TIME = ZoneInfo("Europe/Copenhagen")
_IDS = {"submission_id", "referral_id", "provider_id"}


async def receive_report(
    conn: Connection, envelope: Envelope, report: ProviderReport, working_days: int
) -> None:
    """Readiness reports and social-plan change requests become tasks for the social team;
    other reports are not the social department's."""
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    task: NewTask
    if isinstance(report, ReadinessReportSubmitted):
        task, kind = readiness_task(received_on, working_days), "readiness-report"
    elif isinstance(report, PlanChangeRequested) and report.target_plan is TargetPlan.SOCIAL_PLAN:
        task, kind = social_plan_change_task(received_on, working_days), "plan-change-request"
    else:
        return
    details = report.model_dump_json(exclude=_IDS)
    inserted = await conn.fetchval(
        "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING RETURNING true",
        report.submission_id,
        kind,
        envelope.subject,
        report.referral_id,
        report.provider_id,
        details,
    )
    if not inserted:
        return
    await conn.execute(
        "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, due_on, submission_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        uuid.uuid4(),
        envelope.subject,
        task.kind,
        task.title,
        task.due_on,
        report.submission_id,
        json.dumps({"submission_id": str(report.submission_id), **json.loads(details)}),
    )
    received = ReportReceived(
        submission_id=report.submission_id,
        referral_id=report.referral_id,
        provider_id=report.provider_id,
        department=Department.SOCIAL,
        outcome=ReportOutcome.TASK_CREATED,
        task_due_on=task.due_on,
    )
    await add_event(
        conn,
        Envelope(
            source=SOURCE,
            type=received.event_type,
            subject=envelope.subject,
            dataschema=received.dataschema,
            correlationid=envelope.correlationid,
            causationid=envelope.id,
        ),
        received,
        topic=SOCIAL_EVENTS.name,
    )
