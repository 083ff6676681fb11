"""SQL for the plan-change protocol: the decisions the social department reviews or made itself
(``decision_review``), and the disputes on them. Every function runs on the caller's connection,
inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from samspil.runtime.db import Connection
from schemas.decisions import PlanChangeDecided

# -- decisions under review -----------------------------------------------------------------------


async def insert_employment_decision(
    conn: Connection, citizen_ref: str, decided: PlanChangeDecided, object_by: date
) -> bool:
    """Keep the jobcenter's decision for the social team to review; False if it was kept before."""
    inserted = await conn.fetchval(
        "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
        " submission_id, referral_id, provider_id, target_plan, decision, reason, resulting_plan_version,"
        " object_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT DO NOTHING RETURNING true",
        decided.decision_id,
        citizen_ref,
        decided.deciding_team.department.value,
        decided.deciding_team.team,
        decided.submission_id,
        decided.referral_id,
        decided.provider_id,
        decided.target_plan.value,
        decided.decision.value,
        decided.reason,
        decided.resulting_plan_version,
        object_by,
    )
    return bool(inserted)


async def insert_social_decision(
    conn: Connection,
    decision_id: uuid.UUID,
    citizen_ref: str,
    team: str,
    submission_id: uuid.UUID,
    referral_id: uuid.UUID,
    provider_id: str,
    decision: str,
    reason: str,
    resulting_plan_version: int | None,
    object_by: date,
) -> None:
    """The social team's own decision on a provider's request to change the social plan."""
    await conn.execute(
        "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
        " submission_id, referral_id, provider_id, target_plan, decision, reason, resulting_plan_version,"
        " object_by)"
        " VALUES ($1, $2, 'social', $3, $4, $5, $6, 'social-plan', $7, $8, $9, $10)",
        decision_id,
        citizen_ref,
        team,
        submission_id,
        referral_id,
        provider_id,
        decision,
        reason,
        resulting_plan_version,
        object_by,
    )


async def decision(conn: Connection, decision_id: uuid.UUID) -> asyncpg.Record | None:
    """The decision, locked for the change."""
    return await conn.fetchrow("SELECT * FROM decision_review WHERE decision_id = $1 FOR UPDATE", decision_id)


async def social_decision(conn: Connection, decision_id: uuid.UUID) -> asyncpg.Record | None:
    """The social team's own decision, locked for the change."""
    return await conn.fetchrow(
        "SELECT * FROM decision_review WHERE decision_id = $1 AND deciding_department = 'social' FOR UPDATE",
        decision_id,
    )


async def social_decision_on(conn: Connection, submission_id: uuid.UUID) -> str | None:
    """What the social team decided on the provider's request, if it did."""
    decided: str | None = await conn.fetchval(
        "SELECT decision FROM decision_review WHERE submission_id = $1 AND deciding_department = 'social'",
        submission_id,
    )
    return decided


async def mark_objected(conn: Connection, decision_id: uuid.UUID) -> None:
    await conn.execute("UPDATE decision_review SET status = 'objected' WHERE decision_id = $1", decision_id)


async def mark_final(conn: Connection, decision_id: uuid.UUID, final_outcome: str, summary: str) -> None:
    await conn.execute(
        "UPDATE decision_review SET status = 'final', final_outcome = $2, final_summary = $3"
        " WHERE decision_id = $1",
        decision_id,
        final_outcome,
        summary,
    )


async def mark_social_decision_final(
    conn: Connection, decision_id: uuid.UUID, final_outcome: str, summary: str
) -> None:
    """The social team's own decision becomes final, if it is still open."""
    await conn.execute(
        "UPDATE decision_review SET status = 'final', final_outcome = $2, final_summary = $3"
        " WHERE decision_id = $1 AND deciding_department = 'social' AND status = 'open'",
        decision_id,
        final_outcome,
        summary,
    )


async def claim_unopposed(conn: Connection, before: date, batch: int) -> list[asyncpg.Record]:
    """The jobcenter's open decisions whose objection window closed before ``before``, the oldest
    first, locked (skipping those another replica holds)."""
    return await conn.fetch(
        "SELECT * FROM decision_review WHERE status = 'open' AND object_by < $1"
        " AND deciding_department = 'employment' ORDER BY object_by LIMIT $2 FOR UPDATE SKIP LOCKED",
        before,
        batch,
    )


# -- the provider's request the social team decides -----------------------------------------------


async def plan_change_request(
    conn: Connection, submission_id: uuid.UUID, citizen_ref: str
) -> asyncpg.Record | None:
    """The provider's request to change the citizen's social plan."""
    return await conn.fetchrow(
        "SELECT submission_id, referral_id, provider_id FROM provider_report"
        " WHERE submission_id = $1 AND citizen_ref = $2 AND kind = 'plan-change-request'",
        submission_id,
        citizen_ref,
    )


async def close_request_tasks(conn: Connection, submission_id: uuid.UUID, by: str) -> None:
    """Close the open tasks made from the provider's report."""
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = now(), closed_by = $2"
        " WHERE submission_id = $1 AND status = 'open'",
        submission_id,
        by,
    )


# -- disputes -------------------------------------------------------------------------------------


async def insert_dispute(
    conn: Connection,
    dispute_id: uuid.UUID,
    decision_id: uuid.UUID,
    citizen_ref: str,
    raised_by: str,
    employment_position: str,
    social_position: str,
    rule_by: date,
) -> None:
    await conn.execute(
        "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
        " social_position, rule_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        dispute_id,
        decision_id,
        citizen_ref,
        raised_by,
        employment_position,
        social_position,
        rule_by,
    )


async def insert_dispute_once(
    conn: Connection,
    dispute_id: uuid.UUID,
    decision_id: uuid.UUID,
    citizen_ref: str,
    raised_by: str,
    employment_position: str,
    social_position: str,
    rule_by: date,
) -> None:
    """The dispute the jobcenter raised; a redelivered one changes nothing."""
    await conn.execute(
        "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
        " social_position, rule_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        dispute_id,
        decision_id,
        citizen_ref,
        raised_by,
        employment_position,
        social_position,
        rule_by,
    )


async def dispute(conn: Connection, dispute_id: uuid.UUID) -> asyncpg.Record | None:
    """The dispute, locked for the ruling."""
    return await conn.fetchrow("SELECT * FROM dispute WHERE dispute_id = $1 FOR UPDATE", dispute_id)


async def record_ruling(conn: Connection, dispute_id: uuid.UUID, outcome: str, ruling: str, by: str) -> None:
    await conn.execute(
        "UPDATE dispute SET status = 'ruled', outcome = $2, ruling = $3, ruled_by = $4, ruled_at = now()"
        " WHERE dispute_id = $1",
        dispute_id,
        outcome,
        ruling,
        by,
    )


async def claim_overdue_disputes(conn: Connection, today: date, batch: int) -> list[asyncpg.Record]:
    """Open disputes past their ruling deadline and not yet announced as overdue, the oldest
    first, locked (skipping those another replica holds)."""
    return await conn.fetch(
        "SELECT dispute_id, citizen_ref, rule_by FROM dispute"
        " WHERE status = 'open' AND NOT overdue_announced AND rule_by < $1"
        " ORDER BY rule_by LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        batch,
    )


async def mark_overdue_announced(conn: Connection, dispute_id: uuid.UUID) -> None:
    await conn.execute("UPDATE dispute SET overdue_announced = true WHERE dispute_id = $1", dispute_id)
