"""The departments' key figures end to end: a known set of events through the three APIs, then
GET /v1/reports/kpis in JSON and CSV, and the same figures on /metrics. The stack is shared with
the other end-to-end tests, so each figure is read where only this test's events can be: a day
long ago (follow-ups and referrals are dated by the events themselves) or a team of its own."""

from __future__ import annotations

import csv
import functools
import io
import random
import statistics
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from employment.domain.contact_course import add_months
from samspil.runtime.auth import Role
from tests.e2e.conftest import RunningStack
from tests.e2e.test_cross_department import job_plan_view, revise_job_plan, tasks, until
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.support import samples, value, wait_for

pytestmark = pytest.mark.e2e

OUTCOMES = ("completed", "failed", "cancelled", "rejected")
# The provider's steps that end a referral with each outcome, from a new referral.
ENDINGS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "completed": [("accept", {}), ("start", {}), ("complete", {"outcome": "Gennemført."})],
    "failed": [("accept", {}), ("start", {}), ("fail", {"reason": "Intet fremmøde i otte uger."})],
    "cancelled": [("cancel", {"reason": "Borgeren er flyttet."})],
    "rejected": [("reject", {"reason": "Ingen ledige pladser."})],
}


async def kpis(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/v1/reports/kpis", params=params)
    assert response.status_code == 200, response.text
    figures: dict[str, Any] = response.json()
    return figures


async def kpi_csv(client: httpx.AsyncClient, **params: str) -> dict[tuple[str, str], str]:
    """The CSV's rows as (figure, breakdown) -> value, after checking its Danish shape."""
    response = await client.get("/v1/reports/kpis", params=params, headers={"accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["figure", "breakdown", "value", "unit"]
    return {(row[0], row[1]): row[2] for row in rows[1:]}


def danish(seconds: float) -> str:
    return f"{seconds:.1f}".replace(".", ",")


def seconds_between(task: dict[str, Any]) -> float:
    closed, created = datetime.fromisoformat(task["closed_at"]), datetime.fromisoformat(task["created_at"])
    return (closed - created).total_seconds()


async def gauges(stack: RunningStack, service: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with httpx.AsyncClient() as client:
        return samples((await client.get(stack.stack.metrics_url(service))).text)


async def test_the_jobcenters_kpis_count_a_known_set_of_events_in_json_csv_and_on_metrics(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    team = f"KPI-team {uuid.uuid4().hex[:6]}"
    # A contact course begun long ago whose first follow-up was never held: overdue from the day
    # after its due date, which is the day no other test's events fall on.
    began = date.today() - timedelta(days=random.randint(800, 3000))
    day = add_months(began, 3) + timedelta(days=1)
    await stack.enrol(in_contact_course_since=began.isoformat())

    provider = f"kpi-{uuid.uuid4().hex[:6]}"
    referrals = {outcome: await refer(stack, provider) for outcome in OUTCOMES}
    noticed = await refer(stack, provider)
    async with provider_client(stack, provider) as gateway:
        for outcome, referral_id in referrals.items():
            await wait_for(functools.partial(visible_to_provider, gateway, referral_id))
            for step, body in ENDINGS[outcome]:
                answer = await gateway.post(
                    f"/v1/referrals/{referral_id}/{step}", json={**body, "occurred_on": day.isoformat()}
                )
                assert answer.status_code == 200, answer.text
        await wait_for(lambda: visible_to_provider(gateway, noticed))
        submissions = []
        for absent_from in ("2026-11-16", "2026-11-23"):
            answer = await gateway.post(
                f"/v1/referrals/{noticed}/absence-notices", json={"absent_from": absent_from}
            )
            assert answer.status_code == 202, answer.text
            submissions.append(answer.json()["submission_id"])

    async with stack.staff_client("employment", Role.EMPLOYMENT_CASEWORKER, team) as employment:
        subject = (await employment.get(f"/v1/referrals/{noticed}")).json()["citizen_ref"]

        async def recontact_tasks() -> list[dict[str, Any]]:
            found = (await employment.get("/v1/tasks", params={"citizen_ref": subject})).json()["items"]
            return [t for t in found if t["kind"] == "recontact-citizen"] if len(found) == 2 else []

        await wait_for(recontact_tasks)
        for submission_id in submissions:
            assessed = await employment.post(
                f"/v1/citizens/{subject}/absence-assessments",
                json={
                    "submission_id": submission_id,
                    "acceptable": True,
                    "action_taken": "citizen-contacted",
                    "note": "Borgeren var syg.",
                },
            )
            assert assessed.status_code == 204, assessed.text
        durations = sorted(seconds_between(task) for task in await recontact_tasks())

        async def every_ending_seen() -> bool:
            for referral_id in referrals.values():
                status = (await employment.get(f"/v1/referrals/{referral_id}")).json()["status"]
                if status not in OUTCOMES:
                    return False
            return True

        await wait_for(every_ending_seen)

        async def overdue_announced() -> dict[str, Any] | None:
            figures = await kpis(employment, **{"from": day.isoformat(), "to": day.isoformat()})
            return figures if figures["follow_ups_overdue_in_period"] else None

        on_the_day = await wait_for(overdue_announced)
        assert on_the_day["follow_ups_overdue_in_period"] == 1
        assert on_the_day["referrals_ended"] == {
            **dict.fromkeys(OUTCOMES, 1),
            "by_who": [
                {"outcome": outcome, "ended_by": "provider", "count": 1} for outcome in sorted(OUTCOMES)
            ],
            "by_reason": [
                {"outcome": outcome, "category": "unspecified", "count": 1} for outcome in sorted(OUTCOMES)
            ],
        }
        assert on_the_day["absence_notice_to_assessment"] == {
            "count": 0,
            "median_seconds": None,
            "p90_seconds": None,
        }
        assert on_the_day["progress_reports"] == {"on_time": 0, "late": 0}
        assert on_the_day["follow_ups_overdue_now"] >= 1  # the department's whole, this course among them

        rows = await kpi_csv(employment, **{"from": day.isoformat(), "to": day.isoformat()})
        assert rows[("period_from", "")] == rows[("period_to", "")] == day.isoformat()
        assert rows[("follow_ups_overdue_in_period", "")] == "1"
        for outcome in OUTCOMES:
            assert rows[("referrals_ended", outcome)] == "1"
            assert rows[("referrals_ended", f"{outcome}/provider")] == "1"
        assert rows[("absence_notice_to_assessment", "median")] == ""

        # The assessments, read for the team that made them.
        mine = await kpis(employment, team=team)
        assert mine["team"] == team and "absence_notice_to_assessment" in mine["team_filtered"]
        measured = mine["absence_notice_to_assessment"]
        assert measured["count"] == 2
        assert measured["median_seconds"] == pytest.approx(statistics.median(durations), abs=1e-3)
        p90 = statistics.quantiles(durations, n=10, method="inclusive")[8]
        assert measured["p90_seconds"] == pytest.approx(p90, abs=1e-3)
        rows = await kpi_csv(employment, team=team)
        assert rows[("team", "")] == team
        assert rows[("absence_notice_to_assessment", "count")] == "2"
        assert rows[("absence_notice_to_assessment", "median")] == danish(measured["median_seconds"])

        # The gauges show the department's figures over the last 30 days, as the report does.
        whole = await kpis(employment)
        assert whole["absence_notice_to_assessment"]["count"] >= 2

        async def gauges_agree() -> bool:
            page = await gauges(stack, "employment")
            if not page.get("samspil_kpi_absence_notice_to_assessment_seconds"):
                return False  # not read yet, or read before the assessments: no quantiles yet
            shown = {
                "assessed": value(
                    page, "samspil_kpi_absence_notice_to_assessment_count", service="employment"
                ),
                "median": value(
                    page,
                    "samspil_kpi_absence_notice_to_assessment_seconds",
                    service="employment",
                    quantile="0.5",
                ),
                "parked": value(page, "samspil_kpi_parked_citizens", service="employment"),
                "progress late": value(
                    page, "samspil_kpi_progress_reports", service="employment", on_time="false"
                ),
                **{
                    outcome: value(
                        page, "samspil_kpi_referrals_ended_by_outcome", service="employment", outcome=outcome
                    )
                    for outcome in OUTCOMES
                },
            }
            expected = {
                "assessed": whole["absence_notice_to_assessment"]["count"],
                "median": pytest.approx(whole["absence_notice_to_assessment"]["median_seconds"]),
                "parked": whole["parked_citizens"],
                "progress late": whole["progress_reports"]["late"],
                **{outcome: whole["referrals_ended"][outcome] for outcome in OUTCOMES},
            }
            return shown == expected

        assert await wait_for(gauges_agree)


async def test_the_kpi_period_is_checked_naming_the_field(running_stack: RunningStack) -> None:
    async with running_stack.employment() as employment:
        backwards = await employment.get(
            "/v1/reports/kpis", params={"from": "2026-12-02", "to": "2026-12-01"}
        )
        assert backwards.status_code == 422
        assert [e["field"] for e in backwards.json()["errors"]] == ["query.from"]
        too_long = await employment.get("/v1/reports/kpis", params={"from": "2025-01-01", "to": "2026-12-01"})
        assert too_long.status_code == 422
        assert [e["field"] for e in too_long.json()["errors"]] == ["query.to"]
        not_a_date = await employment.get("/v1/reports/kpis", params={"from": "1. december"})
        assert not_a_date.status_code == 422
        assert [e["field"] for e in not_a_date.json()["errors"]] == ["query.from"]
    async with running_stack.staff_client("employment", Role.SOCIAL_CASEWORKER) as social_staff:
        assert (await social_staff.get("/v1/reports/kpis")).status_code == 403
    async with running_stack.social() as social:
        backwards = await social.get("/v1/reports/kpis", params={"from": "2026-12-02", "to": "2026-12-01"})
        assert [e["field"] for e in backwards.json()["errors"]] == ["query.from"]


async def test_a_ruled_dispute_counts_in_both_departments_kpis(running_stack: RunningStack) -> None:
    """A provider's request, the jobcenter's decision, the social team's objection and the unit's
    ruling in time: the request reaches its final outcome (employment, the deciding team) and a
    dispute is ruled on time (social, the objecting team)."""
    stack = running_stack
    deciding, objecting = f"Jobcenter KPI {uuid.uuid4().hex[:6]}", f"Social KPI {uuid.uuid4().hex[:6]}"
    subject = await stack.enrol_in_both()
    provider = f"kpi-tvist-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(stack, provider, subject)
    async with provider_client(stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        answer = await gateway.post(
            f"/v1/referrals/{referral_id}/plan-change-requests",
            json={
                "target_plan": "job-plan",
                "change_kind": "hours",
                "proposed_change": "Op fra 10 til 15 timer om ugen.",
                "reason": "Stabilt fremmøde i to måneder.",
            },
        )
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
                "team": deciding,
                "resulting_plan_version": version,
            },
        )
        assert decided.status_code == 201, decided.text
        decision_id = decided.json()["decision_id"]
    # The social team objects once the decision has reached it (its task to consider it).
    await wait_for(lambda: tasks(stack, "social", subject, "consider-employment-decision"))
    async with stack.social() as social:
        objected = await social.post(
            f"/v1/citizens/{subject}/objections",
            json={"decision_id": decision_id, "position": "For mange timer nu.", "team": objecting},
        )
        assert objected.status_code == 201, objected.text
        dispute_id = objected.json()["dispute_id"]
    async with stack.specialist_unit() as unit:
        ruled = await unit.post(
            f"/v1/disputes/{dispute_id}/ruling", json={"outcome": "compromise", "ruling": "12 timer."}
        )
        assert ruled.status_code == 204, ruled.text
        figures = await kpis(unit, team=objecting)
        assert figures["disputes_ruled"] == {"total": 1, "on_time": 1, "late": 0}
        assert figures["disputes_overdue_now"] == 0
        rows = await kpi_csv(unit, team=objecting)
        assert (rows[("disputes_ruled", "on_time")], rows[("disputes_ruled", "late")]) == ("1", "0")

        async def social_gauge_shows_it() -> bool:
            whole = await kpis(unit)
            page = await gauges(stack, "social")
            if "samspil_kpi_disputes_ruled" not in page:
                return False
            on_time = value(page, "samspil_kpi_disputes_ruled", service="social", on_time="true")
            return bool(on_time == whole["disputes_ruled"]["on_time"] >= 1)

        assert await wait_for(social_gauge_shows_it)

    await wait_for(
        until(
            lambda: job_plan_view(stack, subject),
            lambda v: any(d["status"] == "final" for d in v["plan_change_decisions"]),
        )
    )
    async with stack.employment() as employment:
        final = (await kpis(employment, team=deciding))["plan_change_request_to_final"]
    assert final["count"] == 1 and final["median_seconds"] == final["p90_seconds"] > 0


async def test_referrals_ended_are_counted_by_reason_or_outcome_category_with_none_given_as_unspecified(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    # A day long ago of this test's own (the other KPI test's days are fewer days back).
    day = date.today() - timedelta(days=random.randint(3100, 9000))
    provider = f"reasons-{uuid.uuid4().hex[:6]}"
    rejected, failed, withdrawn, completed = [await refer(stack, provider) for _ in range(4)]
    async with provider_client(stack, provider) as gateway:
        for referral_id in (rejected, failed, withdrawn, completed):
            await wait_for(functools.partial(visible_to_provider, gateway, referral_id))
        for referral_id, step, body in [
            (completed, "accept", {}),
            (completed, "start", {}),
            (completed, "complete", {"outcome": "Fik job.", "outcome_category": "retired"}),
            (rejected, "reject", {"reason": "Ingen plads.", "outcome_category": "job"}),
        ]:
            answer = await gateway.post(f"/v1/referrals/{referral_id}/{step}", json=body)
            if step in ("accept", "start"):
                assert answer.status_code == 200, answer.text
                continue
            # An unknown outcome category, or one on a step that is no completion: refused by name.
            assert answer.status_code == 422, answer.text
            assert [e["field"] for e in answer.json()["errors"]] == ["body.outcome_category"]
        unknown = await gateway.post(
            f"/v1/referrals/{rejected}/reject", json={"reason": "Ingen plads.", "reason_category": "bored"}
        )
        assert unknown.status_code == 422, unknown.text
        assert [e["field"] for e in unknown.json()["errors"]] == ["body.reason_category"]
        not_for_accepting = await gateway.post(
            f"/v1/referrals/{failed}/accept", json={"reason_category": "other"}
        )
        assert not_for_accepting.status_code == 422, not_for_accepting.text
        assert [e["field"] for e in not_for_accepting.json()["errors"]] == ["body.reason_category"]
        steps = [
            (rejected, "reject", {"reason": "Ingen ledige pladser.", "reason_category": "provider-capacity"}),
            (failed, "accept", {}),
            (failed, "fail", {"reason": "Intet fremmøde i otte uger."}),
            (completed, "complete", {"outcome": "Fik job som lagermedarbejder.", "outcome_category": "job"}),
        ]
        for referral_id, step, body in steps:
            answer = await gateway.post(
                f"/v1/referrals/{referral_id}/{step}", json={**body, "occurred_on": day.isoformat()}
            )
            assert answer.status_code == 200, answer.text

        async with stack.employment() as employment:
            unknown = await employment.post(
                f"/v1/referrals/{withdrawn}/withdraw", json={"reason": "Flyttet.", "reason_category": "moved"}
            )
            assert unknown.status_code == 422, unknown.text
            assert [e["field"] for e in unknown.json()["errors"]] == ["body.reason_category"]
            answer = await employment.post(
                f"/v1/referrals/{withdrawn}/withdraw",
                json={"reason": "Borgeren er flyttet.", "reason_category": "citizen-moved"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["status_history"][-1]["reason_category"] == "citizen-moved"

            async def all_ended() -> list[dict[str, Any]] | None:
                seen = [
                    (await employment.get(f"/v1/referrals/{r}")).json() for r in (rejected, failed, completed)
                ]
                return seen if [s["status"] for s in seen] == ["rejected", "failed", "completed"] else None

            seen = await wait_for(all_ended)
            assert [
                (s["status_history"][-1]["reason_category"], s["status_history"][-1]["outcome_category"])
                for s in seen
            ] == [("provider-capacity", None), (None, None), (None, "job")]
            figures = await kpis(employment, **{"from": day.isoformat(), "to": day.isoformat()})
            assert figures["referrals_ended"]["by_reason"] == [
                {"outcome": "completed", "category": "job", "count": 1},
                {"outcome": "failed", "category": "unspecified", "count": 1},
                {"outcome": "rejected", "category": "provider-capacity", "count": 1},
            ]
            rows = await kpi_csv(employment, **{"from": day.isoformat(), "to": day.isoformat()})
            assert {key: n for key, n in rows.items() if key[0] == "referrals_ended_by_reason"} == {
                ("referrals_ended_by_reason", "completed/job"): "1",
                ("referrals_ended_by_reason", "failed/unspecified"): "1",
                ("referrals_ended_by_reason", "rejected/provider-capacity"): "1",
            }
            whole = await kpis(employment)

        # The provider sees the jobcenter's category on its side too.
        async def withdrawal_seen() -> dict[str, Any] | None:
            history = (await gateway.get(f"/v1/referrals/{withdrawn}")).json()["status_history"]
            return history[-1] if history[-1]["status"] == "cancelled" else None

        assert (await wait_for(withdrawal_seen))["reason_category"] == "citizen-moved"

        # And in its feed (and so in its webhooks): the reason with its category.
        async def cancellations_in_feed() -> list[dict[str, Any]] | None:
            feed = (await gateway.get("/v1/feed", params={"limit": 100})).json()["items"]
            return [item["data"] for item in feed if item["kind"] == "referral-cancelled"] or None

        assert await wait_for(cancellations_in_feed) == [
            {"reason": "Borgeren er flyttet.", "reason_category": "citizen-moved"}
        ]
        completion = (await gateway.get(f"/v1/referrals/{completed}")).json()["status_history"][-1]
        assert (completion["status"], completion["reason_category"], completion["outcome_category"]) == (
            "completed",
            None,
            "job",
        )

    # The gauge counts the withdrawal (today, within its 30 days) as the report does.
    moved = [
        item["count"]
        for item in whole["referrals_ended"]["by_reason"]
        if (item["outcome"], item["category"]) == ("cancelled", "citizen-moved")
    ]
    assert moved and moved[0] >= 1

    async def gauge_agrees() -> bool:
        page = await gauges(stack, "employment")
        shown = [
            v
            for labels, v in page.get("samspil_kpi_referrals_ended_by_reason", [])
            if labels.get("outcome") == "cancelled" and labels.get("category") == "citizen-moved"
        ]
        return shown == [moved[0]]

    assert await wait_for(gauge_agrees)
