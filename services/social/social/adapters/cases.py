"""SQL for the social case beyond plans and consents: the lead department and handovers, the
social department's follow-ups, readiness assessments, case notes, and what the jobcenter tells
the social department. Every function runs on the caller's connection, inside the caller's
transaction."""

from __future__ import annotations

import json
import uuid
from datetime import date

from samspil.runtime.db import Connection
from schemas.plans import JobPlanRevised
from schemas.referrals import OfferStarted

# -- lead department and handover ----------------------------------------------------------------


async def lead(conn: Connection, citizen_ref: str) -> str:
    """The department leading the citizen's contact course, locked for the change."""
    found: str = await conn.fetchval(
        "SELECT lead FROM contact_lead WHERE citizen_ref = $1 FOR UPDATE", citizen_ref
    )
    return found


async def lead_since(conn: Connection, citizen_ref: str) -> date:
    since: date = await conn.fetchval("SELECT since FROM contact_lead WHERE citizen_ref = $1", citizen_ref)
    return since


async def set_social_lead(conn: Connection, citizen_ref: str, since: date, reason: str) -> None:
    await conn.execute(
        "UPDATE contact_lead SET lead = 'social', since = $2, reason = $3 WHERE citizen_ref = $1",
        citizen_ref,
        since,
        reason,
    )


async def set_employment_lead_by_handover(conn: Connection, citizen_ref: str, since: date) -> None:
    await conn.execute(
        "UPDATE contact_lead SET lead = 'employment', since = $2, reason = 'handover accepted'"
        " WHERE citizen_ref = $1",
        citizen_ref,
        since,
    )


async def insert_follow_up(
    conn: Connection, citizen_ref: str, kind: str, held_on: date, note: str | None, by: str
) -> None:
    await conn.execute(
        "INSERT INTO social_follow_up (citizen_ref, kind, held_on, note, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        citizen_ref,
        kind,
        held_on,
        note,
        by,
    )


async def handover_pending(conn: Connection, citizen_ref: str) -> bool:
    """A handover of the citizen awaits the jobcenter's answer."""
    pending = await conn.fetchval(
        "SELECT handover_id FROM handover WHERE citizen_ref = $1 AND status = 'requested'", citizen_ref
    )
    return pending is not None


async def insert_handover(
    conn: Connection,
    handover_id: uuid.UUID,
    citizen_ref: str,
    justification: str,
    proposed_from: date,
    by: str,
) -> None:
    await conn.execute(
        "INSERT INTO handover (handover_id, citizen_ref, justification, proposed_from, requested_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        handover_id,
        citizen_ref,
        justification,
        proposed_from,
        by,
    )


async def answer_handover(conn: Connection, handover_id: uuid.UUID, status: str, answer: str) -> str | None:
    """Record the answer to a handover still awaiting one; its citizen, or None if there is none."""
    citizen_ref: str | None = await conn.fetchval(
        "UPDATE handover SET status = $2, answer = $3, answered_at = now()"
        " WHERE handover_id = $1 AND status = 'requested' RETURNING citizen_ref",
        handover_id,
        status,
        answer,
    )
    return citizen_ref


# -- readiness and notes --------------------------------------------------------------------------


async def insert_readiness_assessment(
    conn: Connection, citizen_ref: str, ready: bool, assessment: str, by: str
) -> None:
    await conn.execute(
        "INSERT INTO readiness_assessment (citizen_ref, ready, assessment, assessed_by)"
        " VALUES ($1, $2, $3, $4)",
        citizen_ref,
        ready,
        assessment,
        by,
    )


async def insert_note(conn: Connection, citizen_ref: str, author: str, text: str) -> None:
    await conn.execute(
        "INSERT INTO case_note (citizen_ref, author, text) VALUES ($1, $2, $3)", citizen_ref, author, text
    )


# -- what the jobcenter tells the social department ---------------------------------------------


async def insert_offer_started(conn: Connection, citizen_ref: str, started: OfferStarted) -> None:
    await conn.execute(
        "INSERT INTO offer_started (referral_id, citizen_ref, provider_id, offer_kind, offer_title,"
        " hours_per_week, started_on, expected_end_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING",
        started.referral_id,
        citizen_ref,
        started.provider_id,
        started.offer_kind.value,
        started.offer_title,
        started.hours_per_week,
        started.started_on,
        started.expected_end_on,
    )


async def keep_job_plan_summary(
    conn: Connection, citizen_ref: str, revised: JobPlanRevised, legal_basis: str
) -> None:
    """Keep the newest job plan summary (an older version arriving late changes nothing)."""
    await conn.execute(
        "INSERT INTO job_plan_summary (citizen_ref, plan_version, goal, activities, legal_basis)"
        " VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (citizen_ref) DO UPDATE SET plan_version = $2,"
        " goal = $3, activities = $4::jsonb, legal_basis = $5, received_at = now()"
        " WHERE job_plan_summary.plan_version <= $2",
        citizen_ref,
        revised.plan_version,
        revised.goal,
        json.dumps([activity.model_dump(mode="json") for activity in revised.activities]),
        legal_basis,
    )
