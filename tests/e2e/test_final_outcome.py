"""A plan-change decision is provisional until the other department's team lets the deadline pass
or the joint specialist unit rules: the provider who asked sees the decision first as
provisional, then the final outcome, on the submission and in its feed."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from samspil.runtime.codec import Record, encode
from schemas.base import EventData
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
from schemas.disputes import FinalOutcome, FinalVia, PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.provider_reports import TargetPlan
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS, Topic
from tests.e2e.conftest import EMPLOYMENT_TEAM, SOCIAL_TEAM, RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import produce, wait_for

pytestmark = pytest.mark.e2e

REQUESTS: dict[TargetPlan, dict[str, Any]] = {
    TargetPlan.JOB_PLAN: {
        "target_plan": "job-plan",
        "change_kind": "hours",
        "proposed_change": "Op fra 10 til 15 timer om ugen.",
        "reason": "Fremmødet har været stabilt i to måneder.",
    },
    TargetPlan.SOCIAL_PLAN: {
        "target_plan": "social-plan",
        "change_kind": "new-activity",
        "proposed_change": "Bostøtte to gange om ugen.",
        "reason": "Boligsituationen presser fremmødet.",
    },
}
TEAMS = {
    TargetPlan.JOB_PLAN: CaseworkerTeam(department=Department.EMPLOYMENT, team=EMPLOYMENT_TEAM),
    TargetPlan.SOCIAL_PLAN: CaseworkerTeam(department=Department.SOCIAL, team=SOCIAL_TEAM),
}


@dataclass
class Request:
    """A provider's plan-change request, and what the departments need to answer it."""

    gateway: httpx.AsyncClient
    provider_id: str
    subject: str
    referral_id: str
    submission_id: str
    target_plan: TargetPlan

    async def submission(self) -> dict[str, Any]:
        submission: dict[str, Any] = (await self.gateway.get(f"/v1/submissions/{self.submission_id}")).json()
        return submission

    async def acknowledgements(self, outcome: str) -> list[dict[str, Any]]:
        return [a for a in (await self.submission())["acknowledgements"] if a["outcome"] == outcome]

    async def feed(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.gateway.get("/v1/feed")).json()["items"]
        return [item for item in items if item["submission_id"] == self.submission_id]


async def request_plan_change(
    gateway: httpx.AsyncClient, provider_id: str, subject: str, referral_id: str, plan: TargetPlan
) -> Request:
    """Submit the request and wait until the owning team has a task for it, as before any
    decision."""
    answer = await gateway.post(f"/v1/referrals/{referral_id}/plan-change-requests", json=REQUESTS[plan])
    assert answer.status_code == 202, answer.text
    request = Request(gateway, provider_id, subject, referral_id, answer.json()["submission_id"], plan)
    await wait_for(lambda: request.acknowledgements("task-created"))
    return request


def as_published(request: Request, event: EventData, topic: Topic) -> Record:
    """The record as the department's service puts it on its events topic."""
    envelope = Envelope(
        source=f"/samspil/{'employment' if topic is EMPLOYMENT_EVENTS else 'social'}",
        type=event.event_type,
        subject=request.subject,
        dataschema=event.dataschema,
        correlationid=uuid.UUID(request.submission_id),
    )
    return encode(envelope, event, topic.name)


def decided(request: Request, decision_id: uuid.UUID, reason: str) -> Record:
    decision = PlanChangeDecided(
        decision_id=decision_id,
        submission_id=uuid.UUID(request.submission_id),
        referral_id=uuid.UUID(request.referral_id),
        provider_id=request.provider_id,
        target_plan=request.target_plan,
        decision=PlanChangeDecision.REJECTED,
        reason=reason,
        deciding_team=TEAMS[request.target_plan],
    )
    topic = EMPLOYMENT_EVENTS if request.target_plan is TargetPlan.JOB_PLAN else SOCIAL_EVENTS
    return as_published(request, decision, topic)


def made_final(
    request: Request,
    decision_id: uuid.UUID,
    via: FinalVia,
    outcome: FinalOutcome,
    summary: str,
    topic: Topic,
    *,
    provider_id: str | None = None,
) -> Record:
    final = PlanChangeDecisionFinal(
        decision_id=decision_id,
        submission_id=uuid.UUID(request.submission_id),
        referral_id=uuid.UUID(request.referral_id),
        provider_id=provider_id or request.provider_id,
        target_plan=request.target_plan,
        via=via,
        outcome=outcome,
        summary=summary,
    )
    return as_published(request, final, topic)


async def test_a_ruled_job_plan_decision_shows_first_as_provisional_then_as_final_with_the_ruling(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"endelig-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        request = await request_plan_change(gateway, provider, subject, referral_id, TargetPlan.JOB_PLAN)
        decision_id = uuid.uuid4()
        reason = "Borgeren er i angstbehandling; timetallet bevares indtil videre."
        await produce(infra.bootstrap_servers, decided(request, decision_id, reason))

        [provisional] = await wait_for(lambda: request.acknowledgements("decided"))
        assert provisional["final"] is False and provisional["decision"] == "rejected"
        assert provisional["reason"] == reason
        assert (await request.submission())["status"] == "acted-on"

        # The social team objected; the joint specialist unit ruled, announced on the social
        # department's topic.
        ruling = "12 timer om ugen til behandlingen er afsluttet, derefter 15."
        await produce(
            infra.bootstrap_servers,
            made_final(request, decision_id, FinalVia.RULING, FinalOutcome.COMPROMISE, ruling, SOCIAL_EVENTS),
        )
        [final] = await wait_for(lambda: request.acknowledgements("final"))
        assert final == {
            "department": "employment",
            "outcome": "final",
            "final": True,
            "task_due_on": None,
            "decision": "compromise",
            "reason": None,
            "via": "ruling",
            "summary": ruling,
        }
        submission = await request.submission()
        assert submission["status"] == "final"
        assert [a["outcome"] for a in submission["acknowledgements"]][-2:] == ["decided", "final"]
        reached = submission["reached"]
        assert None not in reached.values()
        assert reached["received"] <= reached["delivered"] <= reached["acted_on"] <= reached["final"]

        feed = await request.feed()
        assert [item["kind"] for item in feed][-2:] == ["submission-decided", "submission-final"]
        assert feed[-1]["referral_id"] == referral_id
        assert feed[-1]["data"]["summary"] == ruling and feed[-1]["data"]["final"] is True


async def test_a_social_plan_decisions_final_outcome_reaches_the_provider_without_its_summary(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"socialt-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        request = await request_plan_change(gateway, provider, subject, referral_id, TargetPlan.SOCIAL_PLAN)
        decision_id = uuid.uuid4()
        reason = "Borgeren er i misbrugsbehandling; bostøtte venter til den er afsluttet."
        await produce(infra.bootstrap_servers, decided(request, decision_id, reason))
        await wait_for(lambda: request.acknowledgements("decided"))

        # The jobcenter's team let the deadline pass: the employment service announces it.
        await produce(
            infra.bootstrap_servers,
            made_final(
                request, decision_id, FinalVia.UNOPPOSED, FinalOutcome.REJECTED, reason, EMPLOYMENT_EVENTS
            ),
        )
        [final] = await wait_for(lambda: request.acknowledgements("final"))
        assert final["final"] is True and final["department"] == "social"
        assert (final["via"], final["decision"], final["summary"]) == ("unopposed", "rejected", None)
        assert (await request.submission())["status"] == "final"
        feed = await request.feed()
        assert feed[-1]["kind"] == "submission-final" and feed[-1]["data"]["summary"] is None
        seen = json.dumps([await request.submission(), feed])
        assert "misbrugsbehandling" not in seen


async def test_a_final_outcome_is_shown_once_however_often_it_arrives(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"igen-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        first = await request_plan_change(gateway, provider, subject, referral_id, TargetPlan.JOB_PLAN)
        later = await request_plan_change(gateway, provider, subject, referral_id, TargetPlan.JOB_PLAN)
        decision_id = uuid.uuid4()
        summary = "Fremmødet er stabilt; 15 timer om ugen understøtter målet."
        final = made_final(
            first, decision_id, FinalVia.UNOPPOSED, FinalOutcome.APPROVED, summary, SOCIAL_EVENTS
        )
        # The same record redelivered, the same fact published anew under a new event id, then
        # the later request's final outcome: same topic and citizen, so handled in this order.
        await produce(
            infra.bootstrap_servers,
            final,
            final,
            made_final(first, decision_id, FinalVia.UNOPPOSED, FinalOutcome.APPROVED, summary, SOCIAL_EVENTS),
            made_final(
                later, uuid.uuid4(), FinalVia.UNOPPOSED, FinalOutcome.APPROVED, summary, SOCIAL_EVENTS
            ),
        )
        await wait_for(lambda: later.acknowledgements("final"))

        assert len(await first.acknowledgements("final")) == 1
        assert [item["kind"] for item in await first.feed()].count("submission-final") == 1


async def test_a_final_outcome_naming_another_provider_is_not_recorded_on_the_submission(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"egen-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        mine = await request_plan_change(gateway, provider, subject, referral_id, TargetPlan.JOB_PLAN)
        marker = await request_plan_change(gateway, provider, subject, referral_id, TargetPlan.JOB_PLAN)
        summary = "Godkendt som besluttet."
        await produce(
            infra.bootstrap_servers,
            made_final(
                mine,
                uuid.uuid4(),
                FinalVia.UNOPPOSED,
                FinalOutcome.APPROVED,
                summary,
                EMPLOYMENT_EVENTS,
                provider_id="en-anden-leverandoer",
            ),
            made_final(
                marker, uuid.uuid4(), FinalVia.UNOPPOSED, FinalOutcome.APPROVED, summary, EMPLOYMENT_EVENTS
            ),
        )
        await wait_for(lambda: marker.acknowledgements("final"))

        submission = await mine.submission()
        assert [a["outcome"] for a in submission["acknowledgements"]] == ["task-created"]
        assert submission["status"] == "acted-on"
        assert [item["kind"] for item in await mine.feed()] == ["submission-acknowledged"]
