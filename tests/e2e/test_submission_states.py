"""A submission's states mean the same for every kind of report, and each kind reaches final:
received (the gateway has it), delivered (a department recorded it), acted-on (a task or a
provisional decision), final (nothing more will happen to it). A plan-change request's walk to
final is in test_final_outcome."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.e2e.test_reports import REPORTS, tasks_at
from tests.support import wait_for

pytestmark = pytest.mark.e2e

BODIES = {endpoint: body for endpoint, body, *_ in REPORTS}


async def submission_in(gateway: httpx.AsyncClient, submission_id: str, status: str) -> dict[str, Any] | None:
    submission: dict[str, Any] = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
    return submission if submission["status"] == status else None


async def task_of_kind(
    stack: RunningStack, department: str, subject: str, kind: str
) -> dict[str, Any] | None:
    found = [t for t in await tasks_at(stack, department, subject) if t["kind"] == kind]
    return found[0] if found else None


def assert_walked_in_order(submission: dict[str, Any]) -> None:
    reached = submission["reached"]
    assert None not in reached.values(), reached
    assert reached["received"] <= reached["delivered"] <= reached["acted_on"] <= reached["final"]


async def submit(stack: RunningStack, endpoint: str, subject: str) -> tuple[str, str, str]:
    provider = f"tilstand-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(stack, provider, subject)
    async with provider_client(stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        response = await gateway.post(f"/v1/referrals/{referral_id}/{endpoint}", json=BODIES[endpoint])
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "received"
    return provider, referral_id, response.json()["submission_id"]


async def test_an_absence_notice_is_delivered_acted_on_and_final_once_assessed(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol()
    provider, _, submission_id = await submit(running_stack, "absence-notices", subject)
    async with provider_client(running_stack, provider) as gateway:
        acted_on = await wait_for(lambda: submission_in(gateway, submission_id, "acted-on"))
        # The jobcenter recorded it as it made the task: delivered is not skipped.
        assert acted_on["reached"]["delivered"] == acted_on["reached"]["acted_on"] is not None
        assert acted_on["reached"]["final"] is None
        async with running_stack.employment() as employment:
            assessed = await employment.post(
                f"/v1/citizens/{subject}/absence-assessments",
                json={
                    "submission_id": submission_id,
                    "acceptable": True,
                    "action_taken": "no-action-needed",
                    "note": "Sygemeldt; lægeerklæring modtaget.",
                },
            )
            assert assessed.status_code == 204, assessed.text
        final = await wait_for(lambda: submission_in(gateway, submission_id, "final"))
    assert_walked_in_order(final)


async def test_a_progress_report_is_final_once_the_jobcenter_closes_its_review(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol()
    provider, _, submission_id = await submit(running_stack, "progress-reports", subject)
    task = await wait_for(
        lambda: task_of_kind(running_stack, "employment", subject, "review-progress-report")
    )
    async with provider_client(running_stack, provider) as gateway:
        acted_on = await wait_for(lambda: submission_in(gateway, submission_id, "acted-on"))
        assert acted_on["reached"]["final"] is None
        async with running_stack.employment() as employment:
            closed = await employment.post(
                f"/v1/tasks/{task['task_id']}/close", json={"note": "Gennemgået; samtale med borgeren."}
            )
            assert closed.status_code == 200, closed.text
        final = await wait_for(lambda: submission_in(gateway, submission_id, "final"))
    assert_walked_in_order(final)
    assert [(a["department"], a["outcome"]) for a in final["acknowledgements"]] == [
        ("employment", "task-created"),
        ("employment", "completed"),
    ]


async def test_a_readiness_report_is_final_once_the_social_department_has_assessed_readiness(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider, _, submission_id = await submit(running_stack, "readiness-reports", subject)
    await wait_for(lambda: task_of_kind(running_stack, "social", subject, "ready-for-further-offers"))
    async with provider_client(running_stack, provider) as gateway:

        async def acknowledged_by_both() -> dict[str, Any] | None:
            submission = await submission_in(gateway, submission_id, "acted-on")
            departments = {a["department"] for a in submission["acknowledgements"]} if submission else set()
            return submission if departments == {"employment", "social"} else None

        both = await wait_for(acknowledged_by_both)
        assert both["reached"]["final"] is None  # both recorded it; the social team has yet to act
        async with running_stack.social() as social:
            assessed = await social.post(
                f"/v1/citizens/{subject}/readiness-assessments",
                json={"ready": True, "assessment": "Klar til praktik med mentorstøtte."},
            )
            assert assessed.status_code == 204, assessed.text
        final = await wait_for(lambda: submission_in(gateway, submission_id, "final"))
    assert_walked_in_order(final)
    assert ("social", "completed") in {(a["department"], a["outcome"]) for a in final["acknowledgements"]}
    [task] = [
        t for t in await tasks_at(running_stack, "social", subject) if t["kind"] == "ready-for-further-offers"
    ]
    assert task["status"] == "closed"


async def test_a_readiness_report_is_final_once_the_social_team_closes_its_task_by_hand(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider, _, submission_id = await submit(running_stack, "readiness-reports", subject)
    task = await wait_for(lambda: task_of_kind(running_stack, "social", subject, "ready-for-further-offers"))
    async with running_stack.social() as social:
        closed = await social.post(
            f"/v1/tasks/{task['task_id']}/close", json={"note": "Drøftet på teammødet; ingen vurdering nu."}
        )
        assert closed.status_code == 200, closed.text
    async with provider_client(running_stack, provider) as gateway:
        final = await wait_for(lambda: submission_in(gateway, submission_id, "final"))
    assert_walked_in_order(final)
    assert ("social", "completed") in {(a["department"], a["outcome"]) for a in final["acknowledgements"]}
