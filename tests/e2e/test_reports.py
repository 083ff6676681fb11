"""Every kind of provider report reaches the department that must act on it, and the provider
follows each submission through the closed loop: received, then what the department did."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from samspil.runtime.codec import encode
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
from schemas.envelope import Envelope
from schemas.provider_reports import TargetPlan
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import produce, wait_for

pytestmark = pytest.mark.e2e

REPORTS: list[tuple[str, dict[str, Any], str, str]] = [
    # (endpoint, body, department acting, task kind)
    ("absence-notices", {"absent_from": "2026-11-16"}, "employment", "recontact-citizen"),
    (
        "progress-reports",
        {
            "period_from": "2026-12-01",
            "period_to": "2027-02-28",
            "progression": "none",
            "attendance_percent": 40,
            "summary": "Uregelmæssigt fremmøde; virker belastet.",
            "recommendation": "adjust",
            "concern": True,
            "concern_text": "Tegn på tilbagefald.",
        },
        "employment",
        "review-progress-report",
    ),
    (
        "plan-change-requests",
        {
            "target_plan": "job-plan",
            "change_kind": "hours",
            "proposed_change": "Ned fra 10 til 6 timer om ugen.",
            "reason": "Borgeren er overbelastet.",
            "urgency": "soon",
        },
        "employment",
        "decide-plan-change",
    ),
    (
        "plan-change-requests",
        {
            "target_plan": "social-plan",
            "change_kind": "new-activity",
            "proposed_change": "Bostøtte to gange om ugen.",
            "reason": "Boligsituationen presser fremmødet.",
        },
        "social",
        "decide-social-plan-change",
    ),
    (
        "readiness-reports",
        {"ready_for": "company-internship", "justification": "Stabilt fremmøde i tre måneder."},
        "social",
        "ready-for-further-offers",
    ),
]


async def tasks_at(stack: RunningStack, department: str, subject: str) -> list[dict[str, Any]]:
    async with stack.employment() if department == "employment" else stack.social() as client:
        page = (await client.get("/v1/tasks", params={"citizen_ref": subject})).json()
    tasks: list[dict[str, Any]] = page["items"]
    return tasks


@pytest.mark.parametrize(("endpoint", "body", "department", "task_kind"), REPORTS, ids=lambda v: str(v)[:24])
async def test_each_report_reaches_its_department_and_the_provider_sees_the_outcome(
    running_stack: RunningStack, endpoint: str, body: dict[str, Any], department: str, task_kind: str
) -> None:
    provider = f"rapport-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        response = await gateway.post(f"/v1/referrals/{referral_id}/{endpoint}", json=body)
        assert response.status_code == 202, response.text
        submission_id = response.json()["submission_id"]

        async def department_task() -> list[dict[str, Any]]:
            return [t for t in await tasks_at(running_stack, department, subject) if t["kind"] == task_kind]

        [task] = await wait_for(department_task)
        assert task["details"]["submission_id"] == submission_id

        async def acted_on() -> dict[str, Any] | None:
            submission = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return submission if submission["status"] == "acted-on" else None

        submission = await wait_for(acted_on)
        assert (department, "task-created", task["due_on"]) in {
            (a["department"], a["outcome"], a["task_due_on"]) for a in submission["acknowledgements"]
        }
    other = "social" if department == "employment" else "employment"
    assert [t for t in await tasks_at(running_stack, other, subject) if t["kind"] == task_kind] == []


async def test_a_report_breaking_a_cross_field_rule_is_refused_naming_the_field(
    running_stack: RunningStack,
) -> None:
    provider = f"regel-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        response = await gateway.post(
            f"/v1/referrals/{referral_id}/progress-reports",
            json={**REPORTS[1][1], "period_to": "2026-11-01", "concern_text": None},
        )
        assert response.status_code == 422
        assert {error["field"] for error in response.json()["errors"]} == {
            "body.period_to",
            "body.concern_text",
        }
        other_provider = await gateway.get(f"/v1/submissions/{uuid.uuid4()}")
        assert other_provider.status_code == 404


@contextlib.asynccontextmanager
async def decided_plan_change(
    stack: RunningStack, infra: Infra, report: int, plan: TargetPlan, team: CaseworkerTeam, reason: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str, Callable[[], Awaitable[dict[str, Any] | None]]]]:
    """A provider requests a plan change, and the owning team's decision is put on the bus as
    that department's service publishes it. Yields the provider's client, the submission id and
    a probe for the decision as the provider sees it."""
    provider = f"beslut-{uuid.uuid4().hex[:6]}"
    subject = await stack.enrol()
    referral_id = await refer(stack, provider, subject)
    async with provider_client(stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        endpoint, body = REPORTS[report][0], REPORTS[report][1]
        answer = await gateway.post(f"/v1/referrals/{referral_id}/{endpoint}", json=body)
        submission_id = answer.json()["submission_id"]
        decision = PlanChangeDecided(
            decision_id=uuid.uuid4(),
            submission_id=uuid.UUID(submission_id),
            referral_id=uuid.UUID(referral_id),
            provider_id=provider,
            target_plan=plan,
            decision=PlanChangeDecision.REJECTED,
            reason=reason,
            deciding_team=team,
        )
        envelope = Envelope(
            source=f"/samspil/{team.department.value}",
            type=decision.event_type,
            subject=subject,
            dataschema=decision.dataschema,
            correlationid=uuid.UUID(submission_id),
        )
        topic = f"samspil.{team.department.value}.events.v1"
        await produce(infra.bootstrap_servers, encode(envelope, decision, topic))

        async def decided() -> dict[str, Any] | None:
            submission = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return next((a for a in submission["acknowledgements"] if a["outcome"] == "decided"), None)

        yield gateway, submission_id, decided


async def test_a_departments_decision_reaches_the_provider_with_its_reason(
    running_stack: RunningStack, infra: Infra
) -> None:
    reason = "Afventer lægelig vurdering før timetallet ændres."
    team = CaseworkerTeam(department=Department.EMPLOYMENT, team="Jobcenter Nord, team 3")
    async with decided_plan_change(running_stack, infra, 2, TargetPlan.JOB_PLAN, team, reason) as (
        gateway,
        submission_id,
        decided,
    ):
        acknowledgement = await wait_for(decided)
        assert acknowledgement["decision"] == "rejected"
        assert acknowledgement["reason"] == reason
        feed = (await gateway.get("/v1/feed")).json()["items"]
        assert any(
            item["kind"] == "submission-decided" and item["submission_id"] == submission_id for item in feed
        )


async def test_a_social_plan_decision_reaches_the_provider_without_its_social_reasons(
    running_stack: RunningStack, infra: Infra
) -> None:
    reason = "Borgeren er i misbrugsbehandling; bostøtte venter til den er afsluttet."
    team = CaseworkerTeam(department=Department.SOCIAL, team="Socialcenter Vest, team 2")
    async with decided_plan_change(running_stack, infra, 3, TargetPlan.SOCIAL_PLAN, team, reason) as (
        gateway,
        _,
        decided,
    ):
        acknowledgement = await wait_for(decided)
        assert acknowledgement["decision"] == "rejected" and acknowledgement["reason"] is None
        feed = json.dumps((await gateway.get("/v1/feed")).json())
        assert "misbrugsbehandling" not in feed
