"""The social KPIs' team filter reads a dispute's raised_by, which holds
the raising team's bare name whichever department raised it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg

from samspil.runtime.reports import Period
from social.adapters import kpis as social_kpis

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))


async def test_a_social_team_is_not_credited_with_disputes_an_employment_team_of_the_same_name_raised(
    social_db: asyncpg.Pool,
) -> None:
    """dispute.raised_by is the social team's name when the social department objects
    (protocol.object_to_decision) and the employment team's bare name when the jobcenter does
    (raised.raised_by.team, department dropped). GET /v1/reports/kpis?team=Team%201 on the social
    service then counts the jobcenter's 'Team 1' disputes as the social 'Team 1''s, and
    team_filtered says the figure is narrowed to the (social) team."""
    for deciding_department in ("employment", "social"):
        decision_id = uuid.uuid4()
        await social_db.execute(
            "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
            " target_plan, decision, reason, object_by, status) VALUES ($1, 'ref', $2, 'Team 1',"
            " 'job-plan', 'approved', 'Reason', '2026-03-01', 'objected')",
            decision_id,
            deciding_department,
        )
        # The other department objects: one dispute raised by social's Team 1, one by employment's.
        await social_db.execute(
            "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
            " social_position, rule_by, status, ruled_at) VALUES ($1, $2, 'ref', 'Team 1', 'E', 'S',"
            " '2026-03-20', 'ruled', $3)",
            uuid.uuid4(),
            decision_id,
            datetime(2026, 3, 10, 9, tzinfo=UTC),
        )
    figures = await social_kpis.read(social_db, MARCH, "Team 1", date(2026, 12, 1))
    assert figures.disputes_ruled.total == 1, "the social team is credited with the jobcenter team's dispute"
