"""The two departments in step, end to end with all three services over the real broker and
databases: lead department and handover, a disputed plan change ruled by the joint specialist
unit, consent withdrawn, conflicting plans, and the protocol surviving a service stopped mid-way."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from samspil.runtime.codec import encode
from schemas.commands import RuleDispute
from schemas.disputes import RulingOutcome
from schemas.envelope import Envelope
from schemas.plans import SocialPlanRevised
from schemas.topics import SOCIAL_COMMANDS, SOCIAL_EVENTS, dead_letter_topic
from tests.e2e.conftest import EMPLOYMENT_TEAM, SOCIAL_TEAM, RunningStack
from tests.e2e.test_employment_case import events_of
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import produce, read_topic, wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()
FOR_PROVIDER = "Timetallet øges gradvist til 15 om ugen."


async def get_json(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def until(probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool]) -> Callable[[], Awaitable[Any]]:
    async def satisfied() -> Any:
        value = await probe()
        return value if check(value) else None

    return satisfied


async def employment_course(stack: RunningStack, subject: str) -> dict[str, Any]:
    async with stack.employment() as employment:
        course: dict[str, Any] = await get_json(employment, f"/v1/citizens/{subject}/contact-course")
    return course


async def social_case(stack: RunningStack, subject: str) -> dict[str, Any]:
    async with stack.social() as social:
        case: dict[str, Any] = await get_json(social, f"/v1/citizens/{subject}")
    return case


async def job_plan_view(stack: RunningStack, subject: str) -> dict[str, Any]:
    async with stack.employment() as employment:
        view: dict[str, Any] = await get_json(employment, f"/v1/citizens/{subject}/job-plan")
    return view


async def tasks(stack: RunningStack, department: str, subject: str, kind: str) -> list[dict[str, Any]]:
    async with stack.employment() if department == "employment" else stack.social() as client:
        found: list[dict[str, Any]] = (await get_json(client, "/v1/tasks", citizen_ref=subject))["items"]
    return [task for task in found if task["kind"] == kind]


async def revise_job_plan(stack: RunningStack, subject: str, hours: float, version: int = 0) -> int:
    plan = {
        "expected_version": version,
        "goal": "Praktik i lager og logistik.",
        "activities": [
            {
                "category": "company-internship",
                "title": "Virksomhedspraktik",
                "starts_on": (TODAY + timedelta(days=14)).isoformat(),
                "hours_per_week": hours,
            }
        ],
    }
    async with stack.employment() as employment:
        response = await employment.post(f"/v1/citizens/{subject}/job-plan", json=plan)
    assert response.status_code == 201, response.text
    plan_version: int = response.json()["plan_version"]
    return plan_version


async def test_social_takes_the_lead_its_follow_ups_count_and_the_jobcenter_accepts_the_handover(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both(
        in_contact_course_since=(TODAY - timedelta(days=200)).isoformat()
    )
    assert (await employment_course(running_stack, subject))["overdue"] is True
    async with running_stack.social() as social:
        taken = await social.post(
            f"/v1/citizens/{subject}/lead",
            json={
                "from_date": (TODAY - timedelta(days=7)).isoformat(),
                "reason": "Massive sociale problemer.",
                "team": SOCIAL_TEAM,
            },
        )
        assert taken.status_code == 204, taken.text
        early_handover = await social.post(
            f"/v1/citizens/{subject}/follow-ups", json={"kind": "caseworker-meeting", "held_on": "2099-01-01"}
        )
        assert early_handover.status_code == 422
    course = await wait_for(
        until(lambda: employment_course(running_stack, subject), lambda c: c["lead_department"] == "social")
    )
    assert course["chased_by_jobcenter"] is False and course["overdue"] is False

    held_on = TODAY - timedelta(days=1)
    async with running_stack.social() as social:
        held = await social.post(
            f"/v1/citizens/{subject}/follow-ups",
            json={"kind": "caseworker-meeting", "held_on": held_on.isoformat()},
        )
        assert held.status_code == 204, held.text
        handover = await social.post(
            f"/v1/citizens/{subject}/handovers",
            json={
                "justification": "Stabil i fire måneder; ønsker praktik.",
                "proposed_from": TODAY.isoformat(),
            },
        )
        assert handover.status_code == 201, handover.text
        handover_id = handover.json()["handover_id"]
    course = await wait_for(
        until(
            lambda: employment_course(running_stack, subject),
            lambda c: c["last_follow_up_on"] == held_on.isoformat(),
        )
    )
    assert course["follow_ups"][0]["department"] == "social"

    [decide] = await wait_for(lambda: tasks(running_stack, "employment", subject, "decide-handover"))
    assert decide["details"]["handover_id"] == handover_id
    version = await revise_job_plan(running_stack, subject, hours=10)
    async with running_stack.employment() as employment:
        accepted = await employment.post(
            f"/v1/citizens/{subject}/handovers/{handover_id}/accept",
            json={"from_date": TODAY.isoformat(), "job_plan_version": version, "team": EMPLOYMENT_TEAM},
        )
        assert accepted.status_code == 204, accepted.text
        twice = await employment.post(
            f"/v1/citizens/{subject}/handovers/{handover_id}/accept",
            json={"from_date": TODAY.isoformat(), "job_plan_version": version, "team": EMPLOYMENT_TEAM},
        )
        assert twice.status_code == 409

    course = await employment_course(running_stack, subject)
    assert course["lead_department"] == "employment" and course["chased_by_jobcenter"] is True
    assert course["overdue"] is False and course["last_follow_up_on"] == held_on.isoformat()
    case = await wait_for(
        until(lambda: social_case(running_stack, subject), lambda c: c["lead"]["lead"] == "employment")
    )
    assert [h["status"] for h in case["handovers"]] == ["accepted"]


@contextlib.asynccontextmanager
async def decided_job_plan_change(
    stack: RunningStack, subject: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """A provider asks to change the job plan and the jobcenter approves: (provider's client,
    submission id, decision id)."""
    provider = f"tvist-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(stack, provider, subject)
    async with provider_client(stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        submission_id, decision_id = await _request_and_decide(stack, subject, gateway, referral_id)
        yield gateway, submission_id, decision_id


async def _request_and_decide(
    stack: RunningStack, subject: str, gateway: httpx.AsyncClient, referral_id: str
) -> tuple[str, str]:
    request = {
        "target_plan": "job-plan",
        "change_kind": "hours",
        "proposed_change": "Op fra 10 til 15 timer om ugen.",
        "reason": "Stabilt fremmøde i to måneder.",
    }
    answer = await gateway.post(f"/v1/referrals/{referral_id}/plan-change-requests", json=request)
    submission_id = answer.json()["submission_id"]
    await wait_for(lambda: tasks(stack, "employment", subject, "decide-plan-change"))
    version = await revise_job_plan(stack, subject, hours=15)
    async with stack.employment() as employment:
        decided = await employment.post(
            f"/v1/citizens/{subject}/plan-change-decisions",
            json={
                "submission_id": submission_id,
                "decision": "approved",
                "reason": "15 timer understøtter målet om praktik.",
                "team": EMPLOYMENT_TEAM,
                "resulting_plan_version": version,
            },
        )
    assert decided.status_code == 201, decided.text
    return submission_id, decided.json()["decision_id"]


async def object_and_rule(stack: RunningStack, subject: str, decision_id: str) -> str:
    async with stack.social() as social:
        objected = await social.post(
            f"/v1/citizens/{subject}/objections",
            json={
                "decision_id": decision_id,
                "position": "Flere timer under angstbehandling risikerer tilbagefald.",
                "team": SOCIAL_TEAM,
            },
        )
        assert objected.status_code == 201, objected.text
        dispute_id: str = objected.json()["dispute_id"]
        not_allowed = await social.post(
            f"/v1/disputes/{dispute_id}/ruling",
            json={"outcome": "compromise", "ruling": "Ikke min afgørelse."},
        )
        assert not_allowed.status_code == 403  # only the specialist unit rules
    async with stack.specialist_unit() as unit:
        listed = (await get_json(unit, "/v1/disputes"))["items"]
        assert dispute_id in {d["dispute_id"] for d in listed}
        ruled = await unit.post(
            f"/v1/disputes/{dispute_id}/ruling",
            json={
                "outcome": "compromise",
                "ruling": "12 timer om ugen til behandlingen slutter, derefter 15.",
                "summary_for_provider": FOR_PROVIDER,
            },
        )
        assert ruled.status_code == 204, ruled.text
    return dispute_id


async def both_sides_final(
    stack: RunningStack, subject: str, decision_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    [employment_side] = (
        await wait_for(
            until(
                lambda: job_plan_view(stack, subject),
                lambda v: any(
                    d["decision_id"] == decision_id and d["status"] == "final"
                    for d in v["plan_change_decisions"]
                ),
            )
        )
    )["plan_change_decisions"]
    [social_side] = (
        await wait_for(
            until(
                lambda: social_case(stack, subject),
                lambda c: any(d["status"] == "final" for d in c["decisions"]),
            )
        )
    )["decisions"]
    return employment_side, social_side


async def test_a_disputed_plan_change_is_ruled_and_both_plans_and_the_provider_see_the_ruling(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    async with decided_job_plan_change(running_stack, subject) as (gateway, submission_id, decision_id):
        case = await wait_for(
            until(lambda: social_case(running_stack, subject), lambda c: bool(c["decisions"]))
        )
        assert case["decisions"][0]["status"] == "open" and case["decisions"][0]["decision_id"] == decision_id
        # Both sides keep the deadline the jobcenter announced with its decision.
        [provisional] = (await job_plan_view(running_stack, subject))["plan_change_decisions"]
        assert provisional["status"] == "provisional"
        assert provisional["object_by"] == case["decisions"][0]["object_by"] is not None
        dispute_id = await object_and_rule(running_stack, subject, decision_id)

        employment_side, social_side = await both_sides_final(running_stack, subject, decision_id)
        ruling = "12 timer om ugen til behandlingen slutter, derefter 15."
        assert employment_side["ruling"] == ruling and employment_side["final_outcome"] == "compromise"
        assert social_side["final_summary"] == ruling and social_side["final_outcome"] == "ruling:compromise"
        assert [d["status"] for d in (await social_case(running_stack, subject))["disputes"]] == ["ruled"]
        # Each side has the task of bringing its own plan in line with the ruling.
        assert await wait_for(lambda: tasks(running_stack, "employment", subject, "apply-ruling"))
        assert await tasks(running_stack, "social", subject, "apply-ruling")

        async def final_for_provider() -> dict[str, Any] | None:
            submission = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return next((a for a in submission["acknowledgements"] if a["outcome"] == "final"), None)

        seen = await wait_for(final_for_provider)
        # The provider reads what the unit wrote for it, not the ruling's reasons (treatment).
        assert (
            seen["summary"] == FOR_PROVIDER and "behandling" not in str(seen) and dispute_id not in str(seen)
        )


async def test_withdrawn_consent_removes_the_jobcenters_summary_and_no_more_summaries_flow(
    running_stack: RunningStack, infra: Infra
) -> None:
    subject = await running_stack.enrol_in_both()
    plan = {
        "expected_version": 0,
        "goal": "Stabil boligsituation.",
        "measures": [{"category": "housing-support", "starts_on": "2026-10-01", "hours_per_week": 3}],
        "weekly_capacity_hours": 20,
    }
    async with running_stack.social() as social:
        first = await social.post(f"/v1/citizens/{subject}/social-plan", json=plan)
        assert first.json() == {"plan_version": 1, "shared_with_employment": False}
        consent = await social.post(
            f"/v1/citizens/{subject}/consents",
            json={
                "information": "social-plan-summary",
                "to_department": "employment",
                "purpose": "At jobplanen tager hensyn til den sociale handleplan.",
                "expires_on": (TODAY + timedelta(days=365)).isoformat(),
            },
        )
        assert consent.status_code == 201, consent.text
        consent_id = consent.json()["consent_id"]

    view = await wait_for(
        until(lambda: job_plan_view(running_stack, subject), lambda v: v["social_plan_summary"])
    )
    assert view["social_plan_summary"]["legal_basis"] == f"consent:{consent_id}"
    shares = (await social_case(running_stack, subject))["shares"]
    assert [(s["information"], s["recipient"], s["basis"]) for s in shares] == [
        ("social-plan-summary", "employment", f"consent:{consent_id}")
    ]

    async with running_stack.social() as social:
        withdrawn = await social.post(f"/v1/citizens/{subject}/consents/{consent_id}/withdraw")
        assert withdrawn.status_code == 204, withdrawn.text
        second = await social.post(
            f"/v1/citizens/{subject}/social-plan", json={**plan, "expected_version": 1}
        )
        assert second.json() == {"plan_version": 2, "shared_with_employment": False}
    await wait_for(
        until(lambda: job_plan_view(running_stack, subject), lambda v: v["social_plan_summary"] is None)
    )
    summaries = await events_of(infra, SOCIAL_EVENTS.name, subject, SocialPlanRevised.event_type)
    assert [summary["plan_version"] for summary in summaries] == [1]


async def test_a_conflicting_plan_revision_raises_a_task_in_both_departments(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    async with running_stack.social() as social:
        await social.post(
            f"/v1/citizens/{subject}/consents",
            json={
                "information": "social-plan-summary",
                "to_department": "employment",
                "purpose": "Koordinering af de to planer.",
                "expires_on": (TODAY + timedelta(days=365)).isoformat(),
            },
        )
        plan = {
            "expected_version": 0,
            "goal": "Regelmæssig behandling.",
            "measures": [{"category": "addiction-treatment", "starts_on": "2026-10-01", "hours_per_week": 6}],
            "weekly_capacity_hours": 12,
        }
        assert (await social.post(f"/v1/citizens/{subject}/social-plan", json=plan)).status_code == 201
    await wait_for(until(lambda: job_plan_view(running_stack, subject), lambda v: v["social_plan_summary"]))
    await revise_job_plan(running_stack, subject, hours=10)  # 10 + 6 > 12

    [employment_task] = await wait_for(
        lambda: tasks(running_stack, "employment", subject, "resolve-plan-conflict")
    )
    [social_task] = await wait_for(lambda: tasks(running_stack, "social", subject, "resolve-plan-conflict"))
    assert social_task["details"]["rule"] == "hours-over-capacity"
    assert (
        social_task["details"]["job_plan_version"] == 1 and social_task["details"]["social_plan_version"] == 1
    )
    assert "12" in employment_task["details"].get("explanation", "") + social_task["details"]["explanation"]


async def test_the_protocol_survives_each_service_being_stopped_mid_way(running_stack: RunningStack) -> None:
    subject = await running_stack.enrol_in_both()
    stack = running_stack.stack
    provider = f"pause-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        # The social service is down when the jobcenter decides...
        stack.stop_service("social")
        try:
            _, decision_id = await _request_and_decide(running_stack, subject, gateway, referral_id)
        finally:
            stack.start_service("social")
            stack.wait_ready(timeout=90)
        reviewed = until(lambda: social_case(running_stack, subject), lambda case: bool(case["decisions"]))
        await wait_for(reviewed, timeout=60)
        # ...and the jobcenter's is down while the social team objects and the unit rules.
        stack.stop_service("employment")
        try:
            await object_and_rule(running_stack, subject, decision_id)
        finally:
            stack.start_service("employment")
            stack.wait_ready(timeout=90)
    employment_side, social_side = await both_sides_final(running_stack, subject, decision_id)
    assert employment_side["final_outcome"] == "compromise"
    assert social_side["final_outcome"] == "ruling:compromise"
    assert employment_side["ruling"] == social_side["final_summary"]


async def test_the_jobcenter_objects_to_a_social_plan_decision_and_the_unit_rules(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider = f"sofplan-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        request = {
            "target_plan": "social-plan",
            "change_kind": "new-activity",
            "proposed_change": "Bostøtte to formiddage om ugen.",
            "reason": "Boligsituationen presser fremmødet.",
        }
        answer = await gateway.post(f"/v1/referrals/{referral_id}/plan-change-requests", json=request)
        submission_id = answer.json()["submission_id"]
        await wait_for(lambda: tasks(running_stack, "social", subject, "decide-social-plan-change"))
        async with running_stack.social() as social:
            decided = await social.post(
                f"/v1/citizens/{subject}/plan-change-decisions",
                json={
                    "submission_id": submission_id,
                    "decision": "rejected",
                    "reason": "Bostøtten lægges om eftermiddagen af hensyn til behandlingen.",
                    "team": SOCIAL_TEAM,
                },
            )
            assert decided.status_code == 201, decided.text
        decision_id = decided.json()["decision_id"]

        async def social_decisions() -> list[dict[str, Any]]:
            async with running_stack.employment() as employment:
                found: list[dict[str, Any]] = await get_json(
                    employment, f"/v1/citizens/{subject}/social-decisions"
                )
            return found

        [seen] = await wait_for(social_decisions)
        # No consent or statute covers the social reasons, so the jobcenter sees only the decision.
        assert (seen["decision_id"], seen["status"], seen["reason"]) == (decision_id, "open", None)
        assert await tasks(running_stack, "employment", subject, "consider-social-decision")
        async with running_stack.employment() as employment:
            objected = await employment.post(
                f"/v1/citizens/{subject}/objections",
                json={
                    "decision_id": decision_id,
                    "position": "Bostøtte om formiddagen udelukker praktikken.",
                    "team": EMPLOYMENT_TEAM,
                },
            )
            assert objected.status_code == 201, objected.text
        dispute_id = objected.json()["dispute_id"]
        await wait_for(until(lambda: social_case(running_stack, subject), lambda c: bool(c["disputes"])))
        async with running_stack.specialist_unit() as unit:
            ruled = await unit.post(
                f"/v1/disputes/{dispute_id}/ruling",
                json={"outcome": "social-position", "ruling": "Bostøtten om eftermiddagen står ved magt."},
            )
            assert ruled.status_code == 204, ruled.text

        [final] = await wait_for(until(social_decisions, lambda found: found[0]["status"] == "final"))
        assert (final["final_outcome"], final["ruling_outcome"]) == ("social-position", "social-position")
        case = await social_case(running_stack, subject)
        assert [d["status"] for d in case["decisions"]] == ["final"]

        async def final_for_provider() -> dict[str, Any] | None:
            submission = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return next((a for a in submission["acknowledgements"] if a["outcome"] == "final"), None)

        seen_by_provider = await wait_for(final_for_provider)
        assert seen_by_provider["decision"] == "social-position" and seen_by_provider["summary"] is None


async def test_a_ruling_sent_on_the_command_topic_is_refused(
    running_stack: RunningStack, infra: Infra
) -> None:
    """Only the joint specialist unit rules, through its role on the API; the social department's
    case system cannot make a binding ruling over the bus."""
    subject = await running_stack.enrol_in_both()
    ruling = RuleDispute(
        dispute_id=uuid.uuid4(), outcome=RulingOutcome.COMPROMISE, ruling="Forsøg via bussen."
    )
    envelope = Envelope(
        source="/kommune/social/sagssystem",
        type=ruling.event_type,
        subject=subject,
        dataschema=ruling.dataschema,
        correlationid=uuid.uuid4(),
    )
    await produce(infra.bootstrap_servers, encode(envelope, ruling, SOCIAL_COMMANDS.name))

    async def dead_lettered() -> dict[str, bytes] | None:
        for _, _, headers in await read_topic(infra.bootstrap_servers, dead_letter_topic("social").name):
            named = dict(headers)
            if named.get("ce_id") == str(envelope.id).encode():
                return named
        return None

    named = await wait_for(dead_lettered)
    assert named["dlq_reason"] == b"rejected" and b"forbidden" in named["dlq_error"]


async def test_the_social_caseworker_sees_the_offer_started_and_records_readiness(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider = f"start-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        assert (await gateway.post(f"/v1/referrals/{referral_id}/accept", json={})).status_code == 200
        started = await gateway.post(
            f"/v1/referrals/{referral_id}/start", json={"occurred_on": TODAY.isoformat()}
        )
        assert started.status_code == 200, started.text
        readiness = await gateway.post(
            f"/v1/referrals/{referral_id}/readiness-reports",
            json={"ready_for": "company-internship", "justification": "Stabilt fremmøde i tre måneder."},
        )
        assert readiness.status_code == 202, readiness.text

    case = await wait_for(
        until(lambda: social_case(running_stack, subject), lambda c: bool(c["offers_started"]))
    )
    [offer] = case["offers_started"]
    assert (offer["referral_id"], offer["provider_id"], offer["started_on"]) == (
        referral_id,
        provider,
        TODAY.isoformat(),
    )
    assert await wait_for(lambda: tasks(running_stack, "social", subject, "ready-for-further-offers"))
    async with running_stack.social() as social:
        assessed = await social.post(
            f"/v1/citizens/{subject}/readiness-assessments",
            json={"ready": True, "assessment": "Klar til praktik med mentorstøtte."},
        )
        assert assessed.status_code == 204, assessed.text
    [assessment] = (await social_case(running_stack, subject))["readiness_assessments"]
    assert assessment["ready"] is True and assessment["assessed_by"] == "Kim Testesen"


async def test_a_consent_to_the_provider_shows_the_measures_and_its_withdrawal_hides_them(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider = f"samtykke-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    plan = {
        "expected_version": 0,
        "goal": "Regelmæssig behandling.",
        "measures": [
            {
                "category": "mental-health-treatment",
                "starts_on": "2026-11-01",
                "ends_on": "2027-01-31",
                "hours_per_week": 2,
                "provider_id": "behandling-syd",
                "compatible_with_activation": False,
            }
        ],
    }
    async with running_stack.social() as social:
        assert (await social.post(f"/v1/citizens/{subject}/social-plan", json=plan)).status_code == 201
        consent = await social.post(
            f"/v1/citizens/{subject}/consents",
            json={
                "information": "social-plan-summary",
                "to_provider_id": provider,
                "purpose": "At forløbet planlægges uden om behandlingen.",
                "expires_on": (TODAY + timedelta(days=180)).isoformat(),
            },
        )
        assert consent.status_code == 201, consent.text
    async with provider_client(running_stack, provider) as gateway:

        async def shared() -> list[dict[str, Any]]:
            referral = await get_json(gateway, f"/v1/referrals/{referral_id}")
            measures: list[dict[str, Any]] = referral["shared_social_measures"]
            return measures

        [measure] = await wait_for(shared)
        # The kind of measure and when: not who runs it, nor its hours.
        assert measure == {
            "category": "mental-health-treatment",
            "starts_on": "2026-11-01",
            "ends_on": "2027-01-31",
            "compatible_with_activation": False,
        }
        async with running_stack.social() as social:
            withdrawn = await social.post(
                f"/v1/citizens/{subject}/consents/{consent.json()['consent_id']}/withdraw"
            )
            assert withdrawn.status_code == 204, withdrawn.text

        async def hidden() -> bool:
            return await shared() == []

        assert await wait_for(hidden)
    shares = (await social_case(running_stack, subject))["shares"]
    assert [(s["information"], s["recipient"]) for s in shares] == [
        ("social-measures", f"provider:{provider}"),
        ("social-measures-ended", f"provider:{provider}"),
    ]


async def test_a_rejected_handover_leaves_the_social_department_leading_on_both_sides(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    async with running_stack.social() as social:
        await social.post(
            f"/v1/citizens/{subject}/lead",
            json={"from_date": TODAY.isoformat(), "reason": "Én indgang.", "team": SOCIAL_TEAM},
        )
        handover = await social.post(
            f"/v1/citizens/{subject}/handovers",
            json={"justification": "Klar til praktik.", "proposed_from": TODAY.isoformat()},
        )
        handover_id = handover.json()["handover_id"]
        await social.post(f"/v1/citizens/{subject}/notes", json={"text": "Handover sendt til jobcentret."})
    await wait_for(lambda: tasks(running_stack, "employment", subject, "decide-handover"))
    async with running_stack.employment() as employment:
        rejected = await employment.post(
            f"/v1/citizens/{subject}/handovers/{handover_id}/reject",
            json={"reason": "Afventer lægelig vurdering af skånehensyn.", "team": EMPLOYMENT_TEAM},
        )
        assert rejected.status_code == 204, rejected.text
    [answer] = await wait_for(lambda: tasks(running_stack, "social", subject, "handover-rejected"))
    assert answer["details"]["reason"] == "Afventer lægelig vurdering af skånehensyn."
    case = await social_case(running_stack, subject)
    assert case["lead"]["lead"] == "social" and [h["status"] for h in case["handovers"]] == ["rejected"]
    assert (await employment_course(running_stack, subject))["lead_department"] == "social"
    async with running_stack.social() as social:
        notes = (await get_json(social, f"/v1/citizens/{subject}/notes"))["items"]
    assert [(n["author"], n["text"]) for n in notes] == [("Kim Testesen", "Handover sendt til jobcentret.")]
