"""The jobcenter's case, end to end with every service in its own process over the real broker
and databases: absence notice → task → assessment seen by the provider; plan-change request →
decision seen by the provider and the social team; an overdue follow-up announced once, also
across a restart; and the caseworkers' API refusing what it must."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from samspil.runtime.auth import Role
from samspil.runtime.codec import encode
from schemas.commands import PostponeFollowUp, RecordFollowUp, ReviseJobPlan
from schemas.common import CaseworkerTeam, Department
from schemas.contact_course import FollowUpKind, FollowUpOverdue, PostponementReason, SocialFollowUpRecorded
from schemas.envelope import Envelope
from schemas.lead_department import LeadDepartmentTakenOver
from schemas.plans import SocialPlanRevised, SocialPlanSummaryWithdrawn
from schemas.topics import EMPLOYMENT_COMMANDS, EMPLOYMENT_EVENTS, SOCIAL_EVENTS, dead_letter_topic
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import produce, random_cpr, read_topic, wait_for

pytestmark = pytest.mark.e2e

TEAM = "Jobcenter Nord, team 3"


async def tasks_of(stack: RunningStack, subject: str, kind: str) -> list[dict[str, Any]]:
    async with stack.employment() as employment:
        tasks: list[dict[str, Any]] = (
            await employment.get("/v1/tasks", params={"citizen_ref": subject})
        ).json()["items"]
    return [task for task in tasks if task["kind"] == kind]


async def events_of(infra: Infra, topic: str, subject: str, event_type: str) -> list[dict[str, Any]]:
    """The data of each event of a type about a citizen, as it is on the topic."""
    found = []
    for key, value, headers in await read_topic(infra.bootstrap_servers, topic):
        if key == subject.encode() and (("ce_type", event_type.encode()) in headers):
            found.append(json.loads(value))
    return found


async def test_an_absence_notice_becomes_a_task_whose_assessment_reaches_the_provider(
    running_stack: RunningStack,
) -> None:
    provider = f"fravaer-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        notice = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices", json={"absent_from": "2026-11-16"}
        )
        submission_id = notice.json()["submission_id"]
        [task] = await wait_for(lambda: tasks_of(running_stack, subject, "recontact-citizen"))
        assert task["status"] == "open" and task["overdue"] is False

        async with running_stack.employment() as employment:
            assigned = await employment.post(
                f"/v1/tasks/{task['task_id']}/assign", json={"assignee": "Kim Testesen"}
            )
            assert assigned.json()["assignee"] == "Kim Testesen"
            mine = await employment.get(
                "/v1/tasks", params={"assignee": "Kim Testesen", "citizen_ref": subject}
            )
            assert [t["task_id"] for t in mine.json()["items"]] == [task["task_id"]]
            plain_close = await employment.post(
                f"/v1/tasks/{task['task_id']}/close", json={"note": "Klaret."}
            )
            assert plain_close.status_code == 409  # closed by assessing the absence, not by a plain close
            assessment = {
                "submission_id": submission_id,
                "acceptable": False,
                "action_taken": "meeting-booked",
                "note": "Borgeren har ikke meldt sig syg; samtale booket torsdag.",
            }
            assessed = await employment.post(f"/v1/citizens/{subject}/absence-assessments", json=assessment)
            assert assessed.status_code == 204, assessed.text
            again = await employment.post(f"/v1/citizens/{subject}/absence-assessments", json=assessment)
            assert again.status_code == 409
            closed = (await employment.get(f"/v1/tasks/{task['task_id']}")).json()
        assert closed["status"] == "closed" and closed["closed_by"] == "Kim Testesen"
        assert closed["details"]["assessment"]["acceptable"] is False

        async def assessed_for_provider() -> dict[str, Any] | None:
            submission = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return next((a for a in submission["acknowledgements"] if a["outcome"] == "decided"), None)

        seen = await wait_for(assessed_for_provider)
        assert seen["decision"] == "not-acceptable"
        # The caseworker's own note stays in the case.
        assert "torsdag" not in json.dumps(seen)


async def test_a_plan_change_decision_reaches_the_provider_and_the_social_team(
    running_stack: RunningStack,
) -> None:
    provider = f"planskift-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        request = {
            "target_plan": "job-plan",
            "change_kind": "hours",
            "proposed_change": "Ned fra 10 til 6 timer om ugen.",
            "reason": "Borgeren er overbelastet.",
            "urgency": "soon",
        }
        submission_id = (
            await gateway.post(f"/v1/referrals/{referral_id}/plan-change-requests", json=request)
        ).json()["submission_id"]
        [task] = await wait_for(lambda: tasks_of(running_stack, subject, "decide-plan-change"))

        async with running_stack.employment() as employment:
            plan = {
                "expected_version": 0,
                "goal": "Stabilt fremmøde; på sigt praktik i lager.",
                "activities": [
                    {
                        "category": "employment-offer",
                        "title": "Aktiveringsforløb, 6 timer om ugen",
                        "provider_id": provider,
                        "starts_on": "2026-12-01",
                        "hours_per_week": 6,
                    }
                ],
            }
            revised = await employment.post(f"/v1/citizens/{subject}/job-plan", json=plan)
            assert revised.status_code == 201 and revised.json() == {"plan_version": 1}
            decision = {
                "submission_id": submission_id,
                "decision": "approved",
                "reason": "Færre timer understøtter stabilt fremmøde.",
                "team": TEAM,
            }
            without_version = await employment.post(
                f"/v1/citizens/{subject}/plan-change-decisions", json=decision
            )
            assert without_version.status_code == 422
            assert [e["field"] for e in without_version.json()["errors"]] == ["body.resulting_plan_version"]
            unknown_version = await employment.post(
                f"/v1/citizens/{subject}/plan-change-decisions",
                json={**decision, "resulting_plan_version": 7},
            )
            assert unknown_version.status_code == 422
            assert unknown_version.json()["errors"][0]["field"] == "resulting_plan_version"
            decided = await employment.post(
                f"/v1/citizens/{subject}/plan-change-decisions",
                json={**decision, "resulting_plan_version": 1},
            )
            assert decided.status_code == 201, decided.text
            closed = (await employment.get(f"/v1/tasks/{task['task_id']}")).json()
            assert closed["status"] == "closed"

        async def decided_for_provider() -> dict[str, Any] | None:
            submission = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return next((a for a in submission["acknowledgements"] if a["outcome"] == "decided"), None)

        seen = await wait_for(decided_for_provider)
        assert seen["decision"] == "approved" and seen["reason"] == decision["reason"]

    async def social_informed() -> list[dict[str, Any]]:
        async with running_stack.social() as social:
            tasks: list[dict[str, Any]] = (
                await social.get("/v1/tasks", params={"citizen_ref": subject})
            ).json()["items"]
        return [t for t in tasks if t["kind"] == "consider-employment-decision"]

    [informed] = await wait_for(social_informed)
    assert informed["details"]["decision"] == "approved"
    assert informed["details"]["resulting_plan_version"] == 1
    assert informed["details"]["legal_basis"]


async def test_an_overdue_follow_up_is_announced_once_also_across_a_restart(
    running_stack: RunningStack, infra: Infra
) -> None:
    long_ago = (date.today() - timedelta(days=200)).isoformat()
    subject = await running_stack.enrol(in_contact_course_since=long_ago)
    overdue_type = FollowUpOverdue.event_type

    async def announced() -> list[dict[str, Any]]:
        return await events_of(infra, EMPLOYMENT_EVENTS.name, subject, overdue_type)

    [first] = await wait_for(announced)
    async with running_stack.employment() as employment:
        course = (await employment.get(f"/v1/citizens/{subject}/contact-course")).json()
    assert course["overdue"] is True and first["due_on"] == course["due_on"]

    running_stack.stack.stop_service("employment")
    running_stack.stack.start_service("employment")
    running_stack.stack.wait_ready(timeout=60)
    # Another overdue citizen announced after the restart shows the scheduler has scanned since;
    # the first was not announced again.
    witness = await running_stack.enrol(in_contact_course_since=long_ago)
    await wait_for(lambda: events_of(infra, EMPLOYMENT_EVENTS.name, witness, overdue_type))
    assert await announced() == [first]
    # A follow-up ends it: a new due date, which is not overdue.
    async with running_stack.employment() as employment:
        recorded = await employment.post(
            f"/v1/citizens/{subject}/follow-ups", json={"kind": "phone", "held_on": date.today().isoformat()}
        )
    assert recorded.status_code == 201 and recorded.json()["overdue"] is False


async def test_the_caseworkers_api_refuses_what_it_must_and_names_the_field(
    running_stack: RunningStack,
) -> None:
    cpr = random_cpr()
    async with running_stack.employment() as employment:
        first = await employment.post("/v1/citizens", json={"cpr": cpr, "target_group": "kontanthjaelp"})
        again = await employment.post(
            "/v1/citizens",
            json={
                "cpr": cpr.replace("-", ""),
                "target_group": "ressourceforloeb",
                "profile_tags": ["substance-abuse"],
            },
        )
        assert first.status_code == 201 and again.status_code == 200
        subject = first.json()["citizen_ref"]
        assert again.json()["citizen_ref"] == subject and cpr not in first.text

        bad_cpr = await employment.post(
            "/v1/citizens", json={"cpr": "310299-1234", "target_group": "kontanthjaelp"}
        )
        assert bad_cpr.status_code == 422 and bad_cpr.json()["errors"][0]["field"] == "body.cpr"
        assert "310299" not in bad_cpr.text

        disclosed = await employment.get(f"/v1/citizens/{subject}/cpr")
        assert disclosed.json() == {"cpr": cpr} and disclosed.headers["cache-control"] == "no-store"

        unknown = f"k1:{'0' * 64}"
        missing = await employment.post(
            f"/v1/citizens/{unknown}/follow-ups", json={"kind": "phone", "held_on": "2026-11-20"}
        )
        assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "citizen_ref"

        no_note = await employment.post(
            f"/v1/citizens/{subject}/postponements",
            json={
                "reason": "awaiting-medical-treatment",
                "until": (date.today() + timedelta(days=200)).isoformat(),
            },
        )
        assert no_note.status_code == 422
        assert [e["field"] for e in no_note.json()["errors"]] == ["body.justification_note"]

        too_early = await employment.post(
            f"/v1/citizens/{subject}/postponements",
            json={
                "reason": "ongoing-company-internship",
                "until": (date.today() + timedelta(days=10)).isoformat(),
                "justification_note": "Praktik hos en lokal virksomhed; virksomhedskonsulenten følger op.",
            },
        )
        assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "until"

        plan = {"expected_version": 0, "goal": "Afklaring af arbejdsevne."}
        assert (await employment.post(f"/v1/citizens/{subject}/job-plan", json=plan)).status_code == 201
        stale = await employment.post(f"/v1/citizens/{subject}/job-plan", json=plan)
        assert stale.status_code == 409 and stale.json()["current_version"] == 1

        note = await employment.post(f"/v1/citizens/{subject}/notes", json={"text": "Ringede; aftalt møde."})
        assert note.status_code == 201 and note.json()["author"] == "Kim Testesen"
        notes = (await employment.get(f"/v1/citizens/{subject}/notes")).json()["items"]
        assert [n["text"] for n in notes] == ["Ringede; aftalt møde."]

    async with running_stack.employment(role=Role.SOCIAL_CASEWORKER) as social_worker:
        assert (await social_worker.get(f"/v1/citizens/{subject}/cpr")).status_code == 403
    async with running_stack.staff_client("employment", Role.EMPLOYMENT_CASEWORKER) as client:
        client.headers.pop("authorization")
        anonymous = await client.post(
            "/v1/citizens", json={"cpr": random_cpr(), "target_group": "kontanthjaelp"}
        )
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    log = (running_stack.stack.logs / "employment.log").read_text()
    assert cpr not in log and cpr.replace("-", "") not in log


async def test_parked_citizens_are_those_with_nothing_happening_for_months(
    running_stack: RunningStack,
) -> None:
    parked = await running_stack.enrol(
        in_contact_course_since=(date.today() - timedelta(days=500)).isoformat()
    )
    followed = await running_stack.enrol(
        in_contact_course_since=(date.today() - timedelta(days=500)).isoformat()
    )
    recent = await running_stack.enrol()
    async with running_stack.employment() as employment:
        held = (date.today() - timedelta(days=30)).isoformat()
        await employment.post(
            f"/v1/citizens/{followed}/follow-ups", json={"kind": "mentor-meeting", "held_on": held}
        )
        report: list[dict[str, Any]] = []
        params: dict[str, Any] = {"months": 12, "limit": 500}
        while True:  # every page of the report
            page = (await employment.get("/v1/reports/parked-citizens", params=params)).json()
            report += page["items"]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
    listed = {row["citizen_ref"]: row for row in report}
    assert parked in listed and followed not in listed and recent not in listed
    assert listed[parked]["last_follow_up_on"] is None


async def test_commands_on_the_bus_call_the_same_handlers_and_refusals_are_dead_lettered(
    running_stack: RunningStack, infra: Infra
) -> None:
    subject = await running_stack.enrol()
    held_on = date.today() - timedelta(days=3)

    def command(data: Any) -> Any:
        envelope = Envelope(
            source="/kommune/jobcenter/sagssystem",
            type=data.event_type,
            subject=subject,
            dataschema=data.dataschema,
            correlationid=uuid.uuid4(),
        )
        return envelope, encode(envelope, data, EMPLOYMENT_COMMANDS.name)

    _, follow_up = command(RecordFollowUp(kind=FollowUpKind.GROUP_SESSION, held_on=held_on))
    stale_envelope, stale_plan = command(ReviseJobPlan(expected_version=4, goal="Forkert version."))
    _, postponement = command(
        PostponeFollowUp(
            reason=PostponementReason.AWAITING_MEDICAL_INFORMATION,
            until=date.today() + timedelta(days=300),
            justification_note="Afventer speciallægeerklæring; samtale nu giver ingen ny viden.",
        )
    )
    # The same postponement without its note, under its own id: invalid on the bus too.
    noteless = json.loads(postponement.value)
    del noteless["justification_note"]
    invalid_id = str(uuid.uuid4())
    invalid = dataclasses.replace(
        postponement,
        value=json.dumps(noteless).encode(),
        headers=[
            (name, invalid_id.encode() if name == "ce_id" else value) for name, value in postponement.headers
        ],
    )
    await produce(infra.bootstrap_servers, follow_up, stale_plan, invalid, postponement)

    async def course() -> dict[str, Any] | None:
        async with running_stack.employment() as employment:
            state: dict[str, Any] = (await employment.get(f"/v1/citizens/{subject}/contact-course")).json()
        return state if state["postponed_until"] else None

    state = await wait_for(course)
    assert state["last_follow_up_on"] == held_on.isoformat()
    assert state["follow_ups"][0]["recorded_by"] == "case system /kommune/jobcenter/sagssystem"
    assert state["postponements"][0]["justification_note"].startswith("Afventer")

    async def dead_letters() -> dict[str, str]:
        found = {}
        for _, _, headers in await read_topic(infra.bootstrap_servers, dead_letter_topic("employment").name):
            named = dict(headers)
            found[named.get("ce_id", b"").decode()] = named.get("dlq_reason", b"").decode()
        wanted = {str(stale_envelope.id), invalid_id}
        return found if wanted <= found.keys() else {}

    reasons = await wait_for(dead_letters)
    assert reasons[str(stale_envelope.id)] == "rejected"
    assert reasons[invalid_id] == "invalid-data"


async def test_the_social_departments_lead_and_plan_summary_reach_the_jobcenter(
    running_stack: RunningStack, infra: Infra
) -> None:
    subject = await running_stack.enrol(
        in_contact_course_since=(date.today() - timedelta(days=200)).isoformat()
    )
    held_on = date.today() - timedelta(days=2)
    team = CaseworkerTeam(department=Department.SOCIAL, team="Socialcenter Vest, team 2")
    consent = f"consent:{uuid.uuid4()}"

    def social_event(data: Any, legal_basis: str | None = None) -> Any:
        envelope = Envelope(
            source="/samspil/social",
            type=data.event_type,
            subject=subject,
            dataschema=data.dataschema,
            correlationid=uuid.uuid4(),
            legalbasis=legal_basis,
        )
        return encode(envelope, data, SOCIAL_EVENTS.name)

    summary = {
        "goal": "Stabil boligsituation.",
        "measures": [{"category": "housing-support", "starts_on": "2026-10-01", "hours_per_week": 3}],
        "weekly_capacity_hours": 15,
    }
    await produce(
        infra.bootstrap_servers,
        social_event(
            LeadDepartmentTakenOver(
                lead_department=Department.SOCIAL,
                from_date=date.today() - timedelta(days=7),
                reason="Én indgang.",
                team=team,
            )
        ),
        social_event(
            SocialFollowUpRecorded(
                kind=FollowUpKind.CASEWORKER_MEETING, department=Department.SOCIAL, held_on=held_on
            )
        ),
        social_event(SocialPlanRevised.model_validate({"plan_version": 1, **summary}), consent),
        # Without a basis for the share, the jobcenter keeps nothing of it.
        social_event(
            SocialPlanRevised.model_validate({"plan_version": 2, **summary, "goal": "Uden hjemmel."})
        ),
    )

    async def led_by_social() -> dict[str, Any] | None:
        async with running_stack.employment() as employment:
            state: dict[str, Any] = (await employment.get(f"/v1/citizens/{subject}/contact-course")).json()
        return state if state["last_follow_up_on"] == held_on.isoformat() else None

    state = await wait_for(led_by_social)
    assert state["lead_department"] == "social" and state["chased_by_jobcenter"] is False
    assert state["overdue"] is False and state["follow_ups"][0]["department"] == "social"

    async def other_plan() -> dict[str, Any] | None:
        async with running_stack.employment() as employment:
            view: dict[str, Any] = (await employment.get(f"/v1/citizens/{subject}/job-plan")).json()
        summary: dict[str, Any] | None = view["social_plan_summary"]
        return summary

    shown = await wait_for(other_plan)
    assert shown["plan_version"] == 1 and shown["legal_basis"] == consent

    await produce(
        infra.bootstrap_servers, social_event(SocialPlanSummaryWithdrawn(withdrawn_on=date.today()))
    )

    async def removed() -> bool:
        return await other_plan() is None

    assert await wait_for(removed)
