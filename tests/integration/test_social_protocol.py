"""The social department's side of the plan-change protocol on the real PostgreSQL, with the clock
moved forward: an unopposed decision becomes final once its objection window has passed, an
objection after the deadline is refused, and an unruled dispute is flagged once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from samspil.runtime.errors import Conflict, Invalid, NotFound
from schemas.commands import (
    AddSocialCaseNote,
    ObjectToDecision,
    RecordConsent,
    RecordSocialFollowUp,
    ReviseSocialPlan,
    TakeOverLead,
    WithdrawConsent,
)
from schemas.common import CaseworkerTeam, Department
from schemas.consent import MeasuresSharedWithProvider, ProviderShareEnded, SharedInformation
from schemas.contact_course import FollowUpKind
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
from schemas.disputes import DisputeOverdue, PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.plans import MeasureCategory, SocialMeasure, SocialPlanRevised, SocialPlanSummaryWithdrawn
from schemas.provider_reports import TargetPlan
from social.adapters import repository
from social.service_layer import consents, lead, notes, plans, protocol
from social.service_layer.messages import Actor
from tests.support import citizen_ref

RECEIVED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
SOCIAL_TEAM = Actor(name="Sam Testesen", team="Socialcenter Vest, team 2")


async def informed(pool: asyncpg.Pool, subject: str, deadline: date | None = None) -> uuid.UUID:
    decided = PlanChangeDecided(
        decision_id=uuid.uuid4(),
        submission_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        provider_id="aktivcenter-nord",
        target_plan=TargetPlan.JOB_PLAN,
        decision=PlanChangeDecision.APPROVED,
        reason="15 timer understøtter målet.",
        deciding_team=CaseworkerTeam(department=Department.EMPLOYMENT, team="Jobcenter Nord, team 3"),
        resulting_plan_version=2,
        objection_deadline=deadline,
    )
    envelope = Envelope(
        source="/samspil/employment",
        type=decided.event_type,
        subject=subject,
        dataschema=decided.dataschema,
        correlationid=uuid.uuid4(),
        time=RECEIVED,
        legalbasis="statute: test",
    )
    async with pool.acquire() as conn, conn.transaction():
        await repository.insert_citizen(conn, subject, f"010180{uuid.uuid4().int % 10000:04d}", "test")
        await protocol.informed_of_decision(conn, envelope, decided, objection_days=5)
    return decided.decision_id


async def outbox(pool: asyncpg.Pool, event_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox WHERE event_type = $1 ORDER BY seq", event_type)
    return [json.loads(row["payload"]) for row in rows]


async def test_an_unopposed_decision_becomes_final_once_the_window_has_passed(
    social_db: asyncpg.Pool,
) -> None:
    decision_id = await informed(social_db, citizen_ref())
    object_by = date(2027, 3, 8)  # five working days after Monday 1 March
    assert await protocol.settle_deadlines(social_db, object_by) == 0  # the last day is still open
    assert await protocol.settle_deadlines(social_db, object_by + timedelta(days=1)) == 1
    assert await protocol.settle_deadlines(social_db, object_by + timedelta(days=2)) == 0
    [final] = await outbox(social_db, PlanChangeDecisionFinal.event_type)
    assert final["decision_id"] == str(decision_id)
    assert (final["via"], final["outcome"]) == ("unopposed", "approved")
    status = await social_db.fetchval(
        "SELECT status FROM decision_review WHERE decision_id = $1", decision_id
    )
    assert status == "final"


async def test_an_objection_after_the_deadline_is_refused(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    decision_id = await informed(social_db, subject)
    late = ObjectToDecision(decision_id=decision_id, position="For sent.", team="Socialcenter Vest, team 2")
    async with social_db.acquire() as conn, conn.transaction():
        with pytest.raises(Conflict, match="deadline"):
            await protocol.object_to_decision(conn, subject, late, SOCIAL_TEAM, date(2027, 3, 9), 10)


async def test_an_unruled_dispute_is_flagged_once_to_both_teams(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    decision_id = await informed(social_db, subject)
    objection = ObjectToDecision(decision_id=decision_id, position="Risiko for tilbagefald.", team="Team 2")
    async with social_db.acquire() as conn, conn.transaction():
        await protocol.object_to_decision(conn, subject, objection, SOCIAL_TEAM, date(2027, 3, 2), 10)
    rule_by = date(2027, 3, 16)  # ten working days after Tuesday 2 March
    assert await protocol.settle_deadlines(social_db, rule_by) == 0
    assert await protocol.settle_deadlines(social_db, rule_by + timedelta(days=1)) == 1
    assert await protocol.settle_deadlines(social_db, rule_by + timedelta(days=5)) == 0
    [overdue] = await outbox(social_db, DisputeOverdue.event_type)
    assert overdue["rule_by"] == rule_by.isoformat()
    kinds = [
        row["kind"] for row in await social_db.fetch("SELECT kind FROM caseworker_task ORDER BY created_at")
    ]
    assert kinds == ["consider-employment-decision", "rule-dispute", "dispute-overdue"]
    # Objected decisions never become final by the deadline: only a ruling settles them.
    assert await outbox(social_db, PlanChangeDecisionFinal.event_type) == []


async def test_the_social_team_cannot_object_to_its_own_decision(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    decision_id = await informed(social_db, subject)
    await social_db.execute(
        "UPDATE decision_review SET deciding_department = 'social' WHERE decision_id = $1", decision_id
    )
    own = ObjectToDecision(decision_id=decision_id, position="Vores egen afgørelse.", team="Team 2")
    async with social_db.acquire() as conn, conn.transaction():
        with pytest.raises(NotFound):
            await protocol.object_to_decision(conn, subject, own, SOCIAL_TEAM, date(2027, 3, 2), 10)


async def test_an_expired_consent_withdraws_the_summary_once(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    await informed(social_db, subject)  # enrols the citizen
    consent_id = uuid.uuid4()
    await social_db.execute(
        "INSERT INTO consent (consent_id, citizen_ref, information, to_department, purpose, given_on,"
        " expires_on, recorded_by)"
        " VALUES ($1, $2, 'social-plan-summary', 'employment', 'Koordinering', $3, $4, 'test')",
        consent_id,
        subject,
        date(2026, 3, 1),
        date(2027, 3, 1),
    )
    assert await consents.expire_consents(social_db, date(2027, 2, 28), None) == 0
    assert await consents.expire_consents(social_db, date(2027, 3, 1), None) == 1
    assert await consents.expire_consents(social_db, date(2027, 3, 2), None) == 0
    [withdrawn] = await outbox(social_db, SocialPlanSummaryWithdrawn.event_type)
    assert withdrawn == {"withdrawn_on": "2027-03-01"}
    shares = await social_db.fetch(
        "SELECT information, basis FROM audit.share_log WHERE citizen_ref = $1", subject
    )
    assert [(row["information"], row["basis"]) for row in shares] == [
        ("social-plan-summary-withdrawal", f"consent-expired:{consent_id}")
    ]


async def test_a_consent_to_a_provider_shares_the_measures_and_its_withdrawal_ends_the_share(
    social_db: asyncpg.Pool,
) -> None:
    subject = citizen_ref()
    await informed(social_db, subject)  # enrols the citizen
    today = date(2027, 3, 1)
    plan = ReviseSocialPlan(
        expected_version=0,
        goal="Regelmæssig behandling.",
        measures=[
            SocialMeasure(
                category=MeasureCategory.MENTAL_HEALTH_TREATMENT,
                starts_on=date(2027, 2, 1),
                ends_on=date(2027, 5, 31),
                hours_per_week=2,
                provider_id="behandling-syd",
                compatible_with_activation=False,
            )
        ],
    )
    consent = RecordConsent(
        information=SharedInformation.SOCIAL_PLAN_SUMMARY,
        to_provider_id="aktivcenter-nord",
        purpose="At forløbet planlægges uden om behandlingen.",
        expires_on=date(2028, 3, 1),
    )
    async with social_db.acquire() as conn, conn.transaction():
        await plans.revise_social_plan(conn, subject, plan, SOCIAL_TEAM, today, None)
        consent_id = await consents.record_consent(conn, subject, consent, SOCIAL_TEAM, today, None)
        await consents.withdraw_consent(
            conn, subject, WithdrawConsent(consent_id=consent_id), SOCIAL_TEAM, today, None
        )
    [shared] = await outbox(social_db, MeasuresSharedWithProvider.event_type)
    assert shared["provider_id"] == "aktivcenter-nord" and shared["consent_id"] == str(consent_id)
    # The provider learns what kind of measure and when, not who runs it or for how many hours.
    assert shared["measures"] == [
        {
            "category": "mental-health-treatment",
            "starts_on": "2027-02-01",
            "ends_on": "2027-05-31",
            "compatible_with_activation": False,
        }
    ]
    [ended] = await outbox(social_db, ProviderShareEnded.event_type)
    assert (ended["consent_id"], ended["reason"]) == (str(consent_id), "withdrawn")
    # Nothing went to the jobcenter: this consent names a provider, not the department.
    assert await outbox(social_db, SocialPlanRevised.event_type) == []
    log = await social_db.fetch(
        "SELECT information, recipient FROM audit.share_log WHERE citizen_ref = $1 ORDER BY id", subject
    )
    assert [(row["information"], row["recipient"]) for row in log] == [
        ("social-measures", "provider:aktivcenter-nord"),
        ("social-measures-ended", "provider:aktivcenter-nord"),
    ]


async def test_social_case_notes_cannot_be_changed_or_removed(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    await informed(social_db, subject)  # enrols the citizen
    async with social_db.acquire() as conn:
        await notes.add_case_note(conn, subject, AddSocialCaseNote(text="Hjemmebesøg."), SOCIAL_TEAM)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE case_note SET text = 'ændret'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM case_note")
        assert await conn.fetchval("SELECT text FROM case_note") == "Hjemmebesøg."


async def test_the_deadline_the_jobcenter_announced_is_the_one_kept(social_db: asyncpg.Pool) -> None:
    decision_id = await informed(social_db, citizen_ref(), deadline=date(2027, 3, 10))
    object_by = await social_db.fetchval(
        "SELECT object_by FROM decision_review WHERE decision_id = $1", decision_id
    )
    assert object_by == date(2027, 3, 10)
    assert await protocol.settle_deadlines(social_db, date(2027, 3, 10)) == 0
    assert await protocol.settle_deadlines(social_db, date(2027, 3, 11)) == 1


async def test_a_decision_arriving_late_still_gets_the_full_objection_window(social_db: asyncpg.Pool) -> None:
    # The jobcenter announced Friday 5 March, but the decision reached the social department only
    # on Monday 1 March (it waited on the way): a full window from arrival runs to Monday 8 March.
    decision_id = await informed(social_db, citizen_ref(), deadline=date(2027, 3, 5))
    object_by = await social_db.fetchval(
        "SELECT object_by FROM decision_review WHERE decision_id = $1", decision_id
    )
    assert object_by == date(2027, 3, 8)


async def test_a_social_follow_up_before_the_takeover_is_refused(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    await informed(social_db, subject)  # enrols the citizen
    async with social_db.acquire() as conn, conn.transaction():
        taken = TakeOverLead(from_date=date(2027, 3, 1), reason="Én indgang.", team="Team 2")
        await lead.take_over_lead(conn, subject, taken, SOCIAL_TEAM, date(2027, 3, 1), None)
        early = RecordSocialFollowUp(kind=FollowUpKind.PHONE, held_on=date(2027, 2, 20))
        with pytest.raises(Invalid) as refused:
            await lead.record_follow_up(conn, subject, early, SOCIAL_TEAM, date(2027, 3, 2))
    assert refused.value.field == "held_on"


async def test_a_window_closes_only_once_the_objections_sent_before_it_closed_are_handled(
    social_db: asyncpg.Pool,
) -> None:
    decision_id = await informed(social_db, citizen_ref())
    object_by = date(2027, 3, 8)
    later = object_by + timedelta(days=3)
    # The clock is past the deadline, but the command topic is handled only up to its last day.
    assert await protocol.settle_deadlines(social_db, later, objections_handled_on=object_by) == 0
    assert await protocol.settle_deadlines(social_db, later, objections_handled_on=date.min) == 0
    status = await social_db.fetchval(
        "SELECT status FROM decision_review WHERE decision_id = $1", decision_id
    )
    assert status == "open"
    handled_after = object_by + timedelta(days=1)
    assert await protocol.settle_deadlines(social_db, later, objections_handled_on=handled_after) == 1
