"""The jobcenter's objection window on the social team's decisions, on the real PostgreSQL with
the clock moved forward: unopposed decisions become final once, and only after the deadline."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from employment.adapters import cases
from employment.domain.actor import Actor
from employment.service_layer import plans, protocol
from samspil.runtime.audit import verify_chains
from samspil.runtime.errors import Conflict
from schemas.commands import ObjectToSocialPlanDecision, ReviseJobPlan
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
from schemas.disputes import DisputeRaised, PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.plans import JobPlanRevised, SocialPlanSummaryWithdrawn
from schemas.provider_reports import TargetPlan
from schemas.topics import EMPLOYMENT_EVENTS
from tests.support import citizen_ref


async def test_an_unopposed_social_plan_decision_becomes_final_after_the_deadline(
    employment_db: asyncpg.Pool,
) -> None:
    decided = PlanChangeDecided(
        decision_id=uuid.uuid4(),
        submission_id=uuid.uuid4(),
        target_plan=TargetPlan.SOCIAL_PLAN,
        decision=PlanChangeDecision.REJECTED,
        reason="Afventer behandling.",
        deciding_team=CaseworkerTeam(department=Department.SOCIAL, team="Socialcenter Vest, team 2"),
    )
    envelope = Envelope(
        source="/samspil/social",
        type=decided.event_type,
        subject=citizen_ref(),
        dataschema=decided.dataschema,
        correlationid=uuid.uuid4(),
        time=datetime(2027, 3, 1, 9, 0, tzinfo=UTC),  # a Monday
    )
    async with employment_db.acquire() as conn, conn.transaction():
        await protocol.informed_of_social_decision(conn, envelope, decided, objection_days=5)
        await protocol.informed_of_social_decision(conn, envelope, decided, objection_days=5)  # redelivered
    object_by = date(2027, 3, 8)
    assert await protocol.settle_objection_windows(employment_db, object_by) == 0
    assert await protocol.settle_objection_windows(employment_db, object_by + timedelta(days=1)) == 1
    assert await protocol.settle_objection_windows(employment_db, object_by + timedelta(days=9)) == 0

    rows = await employment_db.fetch(
        "SELECT topic, payload FROM outbox WHERE event_type = $1", PlanChangeDecisionFinal.event_type
    )
    assert [row["topic"] for row in rows] == [EMPLOYMENT_EVENTS.name]
    final = json.loads(rows[0]["payload"])
    assert (final["decision_id"], final["via"], final["outcome"]) == (
        str(decided.decision_id),
        "unopposed",
        "rejected",
    )
    # No legal basis came with the decision, so its social reasons were not kept.
    reason = await employment_db.fetchval("SELECT reason FROM social_decision_review")
    assert reason is None
    tasks = await employment_db.fetch("SELECT kind, status FROM caseworker_task")
    assert [(task["kind"], task["status"]) for task in tasks] == [("consider-social-decision", "closed")]


async def test_a_withdrawn_consent_removes_the_social_reasons_it_carried(employment_db: asyncpg.Pool) -> None:
    consent = uuid.uuid4()
    subject = citizen_ref()
    decided = PlanChangeDecided(
        decision_id=uuid.uuid4(),
        target_plan=TargetPlan.SOCIAL_PLAN,
        decision=PlanChangeDecision.APPROVED,
        reason="Bostøtte om eftermiddagen af hensyn til behandlingen.",
        deciding_team=CaseworkerTeam(department=Department.SOCIAL, team="Socialcenter Vest, team 2"),
        resulting_plan_version=2,
    )

    def envelope(data: Any, basis: str) -> Envelope:
        return Envelope(
            source="/samspil/social",
            type=data.event_type,
            subject=subject,
            dataschema=data.dataschema,
            correlationid=uuid.uuid4(),
            legalbasis=basis,
        )

    withdrawn = SocialPlanSummaryWithdrawn(withdrawn_on=date.today())
    async with employment_db.acquire() as conn, conn.transaction():
        await protocol.informed_of_social_decision(conn, envelope(decided, f"consent:{consent}"), decided, 5)
        kept = await conn.fetchval("SELECT reason FROM social_decision_review")
        await plans.social_summary_withdrawn(
            conn, envelope(withdrawn, f"consent-withdrawn:{consent}"), withdrawn
        )
        removed = await conn.fetchval("SELECT reason FROM social_decision_review")
        task_details = await conn.fetchval("SELECT details FROM caseworker_task")
    assert kept == decided.reason and removed is None
    assert "reason" not in json.loads(task_details) and decided.reason not in task_details


async def test_a_job_plan_summary_sent_to_the_social_department_is_logged_as_shared(
    employment_db: asyncpg.Pool,
) -> None:
    subject = citizen_ref()
    revision = ReviseJobPlan(expected_version=0, goal="Job i lager og logistik.", activities=[])
    async with employment_db.acquire() as conn, conn.transaction():
        await cases.insert_citizen(
            conn,
            subject,
            f"010180{uuid.uuid4().int % 10000:04d}",
            "kontanthjaelp",
            [],
            date(2027, 3, 1),
            "test",
        )
        await plans.revise_job_plan(conn, subject, revision, Actor(name="Kim Testesen"), "statute: test")
    [shared] = await employment_db.fetch(
        "SELECT information, recipient, basis, shared_by, event_id FROM audit.share_log"
        " WHERE citizen_ref = $1",
        subject,
    )
    event_id = await employment_db.fetchval(
        "SELECT event_id FROM outbox WHERE event_type = $1", JobPlanRevised.event_type
    )
    assert dict(shared) == {
        "information": "job-plan-summary",
        "recipient": "social",
        "basis": "statute: test",
        "shared_by": "Kim Testesen",
        "event_id": uuid.UUID(str(event_id)),
    }
    async with employment_db.acquire() as conn:
        assert [report.broken for report in await verify_chains(conn)] == [None]


async def _social_decision_on_monday(pool: asyncpg.Pool, subject: str) -> uuid.UUID:
    decided = PlanChangeDecided(
        decision_id=uuid.uuid4(),
        submission_id=uuid.uuid4(),
        target_plan=TargetPlan.SOCIAL_PLAN,
        decision=PlanChangeDecision.REJECTED,
        reason="Bostøtte om eftermiddagen passer ikke endnu.",
        deciding_team=CaseworkerTeam(department=Department.SOCIAL, team="Socialcenter Vest, team 2"),
    )
    envelope = Envelope(
        source="/samspil/social",
        type=decided.event_type,
        subject=subject,
        dataschema=decided.dataschema,
        correlationid=uuid.uuid4(),
        time=datetime(2027, 3, 1, 9, 0, tzinfo=UTC),  # a Monday: objections by Monday 8 March
    )
    async with pool.acquire() as conn, conn.transaction():
        await protocol.informed_of_social_decision(conn, envelope, decided, objection_days=5)
    return decided.decision_id


JOBCENTER = Actor(name="Kim Testesen", team="Jobcenter Nord, team 3")


async def test_the_jobcenters_objection_on_the_last_day_raises_a_dispute(employment_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    decision_id = await _social_decision_on_monday(employment_db, subject)
    objection = ObjectToSocialPlanDecision(
        decision_id=decision_id, position="Jobplanen taler imod.", team="Jobcenter Nord, team 3"
    )
    async with employment_db.acquire() as conn, conn.transaction():
        dispute_id = await protocol.object_to_social_decision(
            conn, subject, objection, JOBCENTER, date(2027, 3, 8), ruling_days=10
        )
    status = await employment_db.fetchval(
        "SELECT status FROM social_decision_review WHERE decision_id = $1", decision_id
    )
    assert status == "objected"
    [raised] = await employment_db.fetch(
        "SELECT payload FROM outbox WHERE event_type = $1", DisputeRaised.event_type
    )
    assert json.loads(raised["payload"])["dispute_id"] == str(dispute_id)
    # Objected decisions never become final by the deadline: only a ruling settles them.
    assert await protocol.settle_objection_windows(employment_db, date(2027, 3, 20)) == 0


async def test_the_jobcenters_objection_the_day_after_the_deadline_is_refused(
    employment_db: asyncpg.Pool,
) -> None:
    subject = citizen_ref()
    decision_id = await _social_decision_on_monday(employment_db, subject)
    objection = ObjectToSocialPlanDecision(
        decision_id=decision_id, position="For sent.", team="Jobcenter Nord, team 3"
    )
    async with employment_db.acquire() as conn, conn.transaction():
        with pytest.raises(Conflict, match="deadline for objections was 2027-03-08"):
            await protocol.object_to_social_decision(
                conn, subject, objection, JOBCENTER, date(2027, 3, 9), ruling_days=10
            )
    status = await employment_db.fetchval(
        "SELECT status FROM social_decision_review WHERE decision_id = $1", decision_id
    )
    assert status == "open"
    assert (
        await employment_db.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = $1", DisputeRaised.event_type
        )
        == 0
    )
