"""A case system works every kind of task knowing only its id: it reads the task's actions and
completes it by calling exactly the method and path an action names, with a body of the schema
the action names (the ids the action gives, plus the caseworker's own fields), and the task is
closed. Also: the social team's tasks are listed with the jobcenter's filters, assigned, and
closed by hand only when not bound to a decision."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from employment.domain.tasks import TaskKind as EmploymentTaskKind
from employment.service_layer.task_actions import actions_for as employment_actions
from social.domain.tasks import TaskKind as SocialTaskKind
from social.service_layer.task_actions import actions_for as social_actions
from tests.e2e.conftest import EMPLOYMENT_TEAM, SOCIAL_TEAM, RunningStack
from tests.e2e.test_cross_department import revise_job_plan, tasks
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.e2e.test_reports import REPORTS
from tests.support import wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()
REPORT_BODY = {(endpoint, kind): body for endpoint, body, _, kind in REPORTS}


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
    assert name in schemas, f"{name} is not a schema of the document"
    schema: dict[str, Any] = schemas[name]
    return schema


def body_fits(document: dict[str, Any], schema_name: str, body: dict[str, Any]) -> None:
    """The body is one of the named schema: every required field there, no field it lacks."""
    schema = _schema(document, schema_name)
    assert set(schema.get("required", [])) <= set(body), (schema_name, body)
    assert set(body) <= set(schema["properties"]), (schema_name, body)


async def complete(
    client: httpx.AsyncClient,
    task_id: str,
    action_name: str,
    fields: dict[str, Any],
    reader: httpx.AsyncClient,
) -> dict[str, Any]:
    """Complete the task by its action ``action_name``, as a case system would: read the task by
    its id, send the action's method to its path with the action's body values and the caller's
    ``fields``; the task as it is afterwards (read through ``reader``)."""
    task = (await reader.get(f"/v1/tasks/{task_id}")).json()
    [action] = [a for a in task["actions"] if a["name"] == action_name]
    body = {**action["body"], **fields}
    body_fits(await openapi(reader), action["body_schema"], body)
    answer = await client.request(action["method"], action["path"], json=body)
    assert answer.is_success, answer.text
    closed: dict[str, Any] = (await reader.get(f"/v1/tasks/{task_id}")).json()
    assert closed["status"] == "closed", closed
    return closed


async def one_task(stack: RunningStack, department: str, subject: str, kind: str) -> dict[str, Any]:
    async def found() -> list[dict[str, Any]]:
        return [t for t in await tasks(stack, department, subject, kind) if t["status"] == "open"]

    open_tasks: list[dict[str, Any]] = await wait_for(found)
    [task] = open_tasks
    return task


CLOSE = {"note": "Gennemgået og handlet på."}


async def test_every_task_a_provider_report_or_a_decision_makes_is_completed_by_its_own_actions(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider = f"handling-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    async with (
        provider_client(running_stack, provider) as gateway,
        running_stack.employment() as employment,
        running_stack.social() as social,
        running_stack.specialist_unit() as unit,
    ):
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        for endpoint, kind in (
            ("absence-notices", "recontact-citizen"),
            ("progress-reports", "review-progress-report"),
            ("readiness-reports", "ready-for-further-offers"),
            ("plan-change-requests", "decide-plan-change"),
            ("plan-change-requests", "decide-social-plan-change"),
        ):
            sent = await gateway.post(
                f"/v1/referrals/{referral_id}/{endpoint}", json=REPORT_BODY[endpoint, kind]
            )
            assert sent.status_code == 202, sent.text

        recontact = await one_task(running_stack, "employment", subject, "recontact-citizen")
        assessed = await complete(
            employment,
            recontact["task_id"],
            "assess-absence",
            {"acceptable": True, "action_taken": "citizen-contacted", "note": "Syg; møder mandag."},
            employment,
        )
        assert assessed["details"]["assessment"]["acceptable"] is True
        review = await one_task(running_stack, "employment", subject, "review-progress-report")
        assert [a["name"] for a in review["actions"]] == ["close"]
        await complete(employment, review["task_id"], "close", CLOSE, employment)
        ready = await one_task(running_stack, "social", subject, "ready-for-further-offers")
        await complete(social, ready["task_id"], "close", CLOSE, social)

        # The jobcenter decides the job-plan change; the social team objects by its task's action.
        decide = await one_task(running_stack, "employment", subject, "decide-plan-change")
        refused = await employment.post(f"/v1/tasks/{decide['task_id']}/close", json=CLOSE)
        assert refused.status_code == 409 and "plan-change-decisions" in refused.json()["title"]
        version = await revise_job_plan(running_stack, subject, hours=6)
        decision = {
            "decision": "approved",
            "reason": "6 timer passer til belastningen.",
            "team": EMPLOYMENT_TEAM,
            "resulting_plan_version": version,
        }
        await complete(employment, decide["task_id"], "decide-plan-change", decision, employment)
        consider = await one_task(running_stack, "social", subject, "consider-employment-decision")
        objection = {"position": "Færre timer er ikke nok: behandlingen kræver 4.", "team": SOCIAL_TEAM}
        await complete(social, consider["task_id"], "object", objection, social)
        # The jobcenter follows the dispute; it stops following by closing the task.
        follow = await one_task(running_stack, "employment", subject, "follow-dispute")
        await complete(employment, follow["task_id"], "close", CLOSE, employment)
        rule = await one_task(running_stack, "social", subject, "rule-dispute")
        ruling = {"outcome": "compromise", "ruling": "4 timer til behandlingen slutter, derefter 6."}
        await complete(unit, rule["task_id"], "rule", ruling, social)
        for department, client in (("employment", employment), ("social", social)):
            apply = await one_task(running_stack, department, subject, "apply-ruling")
            await complete(client, apply["task_id"], "close", CLOSE, client)

        # The social team decides the social-plan change; the jobcenter lets it stand by closing.
        decide_social = await one_task(running_stack, "social", subject, "decide-social-plan-change")
        social_decision = {"decision": "rejected", "reason": "Bostøtte gives allerede.", "team": SOCIAL_TEAM}
        await complete(social, decide_social["task_id"], "decide-plan-change", social_decision, social)
        consider_social = await one_task(running_stack, "employment", subject, "consider-social-decision")
        assert [a["name"] for a in consider_social["actions"]] == ["object", "close"]
        await complete(employment, consider_social["task_id"], "close", CLOSE, employment)


async def test_a_handover_and_a_conflict_between_the_plans_are_completed_by_their_tasks_actions(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both(
        in_contact_course_since=(TODAY - timedelta(days=30)).isoformat()
    )
    async with running_stack.employment() as employment, running_stack.social() as social:
        taken = await social.post(
            f"/v1/citizens/{subject}/lead",
            json={
                "from_date": TODAY.isoformat(),
                "reason": "Massive sociale problemer.",
                "team": SOCIAL_TEAM,
            },
        )
        assert taken.status_code == 204, taken.text
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

        async def summary_seen() -> bool:
            view = (await employment.get(f"/v1/citizens/{subject}/job-plan")).json()
            return bool(view["social_plan_summary"])

        await wait_for(summary_seen)
        version = await revise_job_plan(running_stack, subject, hours=10)  # 10 + 6 > 12
        for department, client in (("employment", employment), ("social", social)):
            conflict = await one_task(running_stack, department, subject, "resolve-plan-conflict")
            await complete(client, conflict["task_id"], "close", CLOSE, client)

        handover = await social.post(
            f"/v1/citizens/{subject}/handovers",
            json={"justification": "Stabil; ønsker praktik.", "proposed_from": TODAY.isoformat()},
        )
        assert handover.status_code == 201, handover.text
        decide = await one_task(running_stack, "employment", subject, "decide-handover")
        assert [a["name"] for a in decide["actions"]] == ["accept-handover", "reject-handover"]
        accept = {"from_date": TODAY.isoformat(), "job_plan_version": version, "team": EMPLOYMENT_TEAM}
        await complete(employment, decide["task_id"], "accept-handover", accept, employment)
        answered = await one_task(running_stack, "social", subject, "handover-accepted")
        await complete(social, answered["task_id"], "close", CLOSE, social)


async def test_every_kind_of_task_names_actions_that_exist_in_its_services_document(
    running_stack: RunningStack,
) -> None:
    """Each kind, including those only a deadline makes (an overdue ruling), names a route and a
    body schema that the service's own OpenAPI document has."""
    ids = {"submission_id": str(uuid.uuid4()), "decision_id": str(uuid.uuid4())}
    ids |= {"handover_id": str(uuid.uuid4()), "dispute_id": str(uuid.uuid4())}
    subject, task_id = "k1:" + "a" * 64, uuid.uuid4()
    async with running_stack.employment() as employment, running_stack.social() as social:
        for client, actions in (
            (employment, [employment_actions(kind, task_id, subject, ids) for kind in EmploymentTaskKind]),
            (social, [social_actions(kind, task_id, subject, ids) for kind in SocialTaskKind]),
        ):
            document = await openapi(client)
            templates = {
                (method.upper(), path): path.split("/")
                for path, item in document["paths"].items()
                for method in item
            }
            for kind_actions in actions:
                assert kind_actions
                for action in kind_actions:
                    _schema(document, action.body_schema)
                    parts = action.path.split("/")
                    assert any(
                        method == action.method
                        and len(template) == len(parts)
                        and all(t == p or t.startswith("{") for t, p in zip(template, parts, strict=True))
                        for (method, _), template in templates.items()
                    ), action


async def test_the_social_teams_tasks_are_filtered_assigned_paged_and_closed_by_hand_only_when_free(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider = f"socopg-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway, running_stack.social() as social:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        for endpoint, kind in (
            ("readiness-reports", "ready-for-further-offers"),
            ("plan-change-requests", "decide-social-plan-change"),
        ):
            sent = await gateway.post(
                f"/v1/referrals/{referral_id}/{endpoint}", json=REPORT_BODY[endpoint, kind]
            )
            assert sent.status_code == 202, sent.text
        ready = await one_task(running_stack, "social", subject, "ready-for-further-offers")
        decide = await one_task(running_stack, "social", subject, "decide-social-plan-change")

        by_kind = (
            await social.get("/v1/tasks", params={"citizen_ref": subject, "kind": "rule-dispute"})
        ).json()
        assert by_kind == {"items": [], "next_cursor": None}
        assigned = await social.post(
            f"/v1/tasks/{ready['task_id']}/assign", json={"assignee": "Sanne Socialrådgiver"}
        )
        assert assigned.status_code == 200 and assigned.json()["assignee"] == "Sanne Socialrådgiver"
        mine = (
            await social.get("/v1/tasks", params={"assignee": "Sanne Socialrådgiver", "status": "open"})
        ).json()
        assert ready["task_id"] in {t["task_id"] for t in mine["items"]}
        overdue = (await social.get("/v1/tasks", params={"citizen_ref": subject, "overdue": True})).json()
        assert overdue["items"] == []  # both are due in a few working days

        first = (await social.get("/v1/tasks", params={"citizen_ref": subject, "limit": 1})).json()
        second = (
            await social.get(
                "/v1/tasks", params={"citizen_ref": subject, "limit": 1, "cursor": first["next_cursor"]}
            )
        ).json()
        in_order = sorted((ready, decide), key=lambda t: (t["due_on"], t["created_at"], t["task_id"]))
        assert [t["task_id"] for t in first["items"] + second["items"]] == [t["task_id"] for t in in_order]
        assert second["next_cursor"] is None

        bound = await social.post(f"/v1/tasks/{decide['task_id']}/close", json=CLOSE)
        assert bound.status_code == 409 and "plan-change-decisions" in bound.json()["title"]
        closed = await social.post(f"/v1/tasks/{ready['task_id']}/close", json=CLOSE)
        assert closed.status_code == 200, closed.text
        assert (closed.json()["status"], closed.json()["closed_by"], closed.json()["close_note"]) == (
            "closed",
            "Kim Testesen",
            CLOSE["note"],
        )
        again = await social.post(f"/v1/tasks/{ready['task_id']}/close", json=CLOSE)
        assert again.status_code == 409 and again.json()["current_status"] == "closed"
        missing = await social.post(f"/v1/tasks/{uuid.uuid4()}/assign", json={"assignee": "Sanne"})
        assert missing.status_code == 404
