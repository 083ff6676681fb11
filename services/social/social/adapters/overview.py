"""SQL for the social case at a glance (GET /v1/citizens/{citizen_ref}): each part of the case
as plain dicts, JSON columns decoded. Every function reads through the connection or pool it is
given."""

from __future__ import annotations

from typing import Any

from social.adapters.repository import Reader, rows


async def _one(conn: Reader, sql: str, citizen_ref: str) -> dict[str, Any] | None:
    found = await rows(conn, sql, citizen_ref)
    return found[0] if found else None


async def lead(conn: Reader, citizen_ref: str) -> dict[str, Any] | None:
    """The department leading the contact course, since when and why."""
    return await _one(
        conn, "SELECT lead, since, reason FROM contact_lead WHERE citizen_ref = $1", citizen_ref
    )


async def social_plan(conn: Reader, citizen_ref: str) -> dict[str, Any] | None:
    """The newest version of the social action plan, if there is one."""
    return await _one(
        conn,
        "SELECT version, goal, measures, weekly_capacity_hours, revised_by, revised_at"
        " FROM social_plan_version"
        " WHERE citizen_ref = $1 ORDER BY version DESC LIMIT 1",
        citizen_ref,
    )


async def job_plan_summary(conn: Reader, citizen_ref: str) -> dict[str, Any] | None:
    """The newest summary of the job plan the jobcenter shared, if any."""
    return await _one(
        conn,
        "SELECT plan_version, goal, activities, legal_basis, received_at FROM job_plan_summary"
        " WHERE citizen_ref = $1",
        citizen_ref,
    )


async def offers_started(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The offers the citizen started, in the order they started."""
    return await rows(
        conn,
        "SELECT referral_id, provider_id, offer_kind, offer_title, hours_per_week, started_on,"
        " expected_end_on FROM offer_started WHERE citizen_ref = $1 ORDER BY started_on",
        citizen_ref,
    )


async def follow_ups(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The social department's follow-ups, the newest first."""
    return await rows(
        conn,
        "SELECT kind, held_on, note, recorded_by FROM social_follow_up WHERE citizen_ref = $1"
        " ORDER BY held_on DESC",
        citizen_ref,
    )


async def handovers(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The handovers asked of the jobcenter, in the order they were asked."""
    return await rows(
        conn,
        "SELECT handover_id, justification, proposed_from, status, answer FROM handover"
        " WHERE citizen_ref = $1 ORDER BY requested_at",
        citizen_ref,
    )


async def decisions(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The plan-change decisions of either department, in the order they arrived."""
    return await rows(
        conn,
        "SELECT decision_id, deciding_department, deciding_team, submission_id, target_plan, decision,"
        " reason, resulting_plan_version, object_by, status, final_outcome, final_summary"
        " FROM decision_review WHERE citizen_ref = $1 ORDER BY received_at",
        citizen_ref,
    )


async def disputes(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The disputes on the citizen's decisions, in the order they were raised."""
    return await rows(
        conn,
        "SELECT dispute_id, decision_id, raised_by, employment_position, social_position, rule_by,"
        " status, outcome, ruling, ruled_by FROM dispute WHERE citizen_ref = $1 ORDER BY raised_at",
        citizen_ref,
    )


async def readiness_assessments(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The social department's readiness assessments, oldest first."""
    return await rows(
        conn,
        "SELECT ready, assessment, assessed_by, assessed_at FROM readiness_assessment"
        " WHERE citizen_ref = $1 ORDER BY id",
        citizen_ref,
    )


async def consents(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """The citizen's consents, withdrawn ones too, in the order they were given."""
    return await rows(
        conn,
        "SELECT consent_id, information, to_department, to_provider_id, purpose, given_on, expires_on,"
        " withdrawn_on FROM consent WHERE citizen_ref = $1 ORDER BY given_on",
        citizen_ref,
    )


async def shares(conn: Reader, citizen_ref: str) -> list[dict[str, Any]]:
    """What was shared about the citizen, with whom and on what basis (the chained share log)."""
    return await rows(
        conn,
        "SELECT information, recipient, basis, shared_by, event_id, shared_at FROM audit.share_log"
        " WHERE citizen_ref = $1 ORDER BY id",
        citizen_ref,
    )


async def case_overview(conn: Reader, citizen_ref: str) -> dict[str, Any]:
    """The whole social case at a glance, each part read in turn."""
    return {
        "citizen_ref": citizen_ref,
        "lead": await lead(conn, citizen_ref),
        "social_plan": await social_plan(conn, citizen_ref),
        "job_plan_summary": await job_plan_summary(conn, citizen_ref),
        "offers_started": await offers_started(conn, citizen_ref),
        "follow_ups": await follow_ups(conn, citizen_ref),
        "handovers": await handovers(conn, citizen_ref),
        "decisions": await decisions(conn, citizen_ref),
        "disputes": await disputes(conn, citizen_ref),
        "readiness_assessments": await readiness_assessments(conn, citizen_ref),
        "consents": await consents(conn, citizen_ref),
        "shares": await shares(conn, citizen_ref),
    }
