"""SQL for the providers' reports the social department receives. Every function runs on the
caller's connection, inside the caller's transaction."""

from __future__ import annotations

import json
import uuid

from samspil.runtime.db import Connection
from schemas.provider_reports import ProviderReport
from social.domain.tasks import NewTask

# Kept in their own columns, not in the report's details.
_IDS = {"submission_id", "referral_id", "provider_id"}


async def insert_report_with_task(
    conn: Connection, citizen_ref: str, kind: str, report: ProviderReport, task: NewTask
) -> bool:
    """Keep the report and the social team's task on it, once: False (and no task) if the report
    was kept before."""
    details = report.model_dump_json(exclude=_IDS)
    inserted = await conn.fetchval(
        "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING RETURNING true",
        report.submission_id,
        kind,
        citizen_ref,
        report.referral_id,
        report.provider_id,
        details,
    )
    if not inserted:
        return False
    await conn.execute(
        "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, due_on, submission_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        uuid.uuid4(),
        citizen_ref,
        task.kind,
        task.title,
        task.due_on,
        report.submission_id,
        json.dumps({"submission_id": str(report.submission_id), **json.loads(details)}),
    )
    return True
