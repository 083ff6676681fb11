"""Social handlers: each a plain function on one transaction's connection."""

from __future__ import annotations

from samspil.runtime.db import Connection
from schemas.common import Department
from schemas.decisions import ReportOutcome, ReportReceived
from schemas.envelope import Envelope
from schemas.provider_reports import ProviderReport
from social.adapters import reports
from social.domain.reports import report_task
from social.service_layer.messages import DANISH_TIME, emit


async def receive_report(
    conn: Connection, envelope: Envelope, report: ProviderReport, working_days: int
) -> None:
    """Readiness reports and social-plan change requests become tasks for the social team;
    other reports are not the social department's."""
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    kept = report_task(report, received_on, working_days)
    if kept is None:
        return
    kind, task = kept
    if not await reports.insert_report_with_task(conn, envelope.subject, kind, report, task):
        return
    received = ReportReceived(
        submission_id=report.submission_id,
        referral_id=report.referral_id,
        provider_id=report.provider_id,
        department=Department.SOCIAL,
        outcome=ReportOutcome.TASK_CREATED,
        task_due_on=task.due_on,
    )
    await emit(conn, received, envelope.subject, cause=envelope)
