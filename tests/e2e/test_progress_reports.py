"""The progress reports a provider is obliged to send, through the running services: the agreed
interval travels with the referral, the provider is reminded once in its feed before a report is
due, a report not sent raises one caseworker task and marks the referral on both sides, and the
next report clears the mark and moves the due date."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, visible_to_provider
from tests.support import wait_for

pytestmark = pytest.mark.e2e


def danish_today() -> date:
    return datetime.now(ZoneInfo("Europe/Copenhagen")).date()


async def refer_with_interval(stack: RunningStack, provider_id: str, subject: str, days: int) -> str:
    async with stack.employment() as employment:
        response = await employment.post(
            "/v1/referrals",
            json={
                "citizen_ref": subject,
                "provider_id": provider_id,
                "offer": {
                    "kind": "activation",
                    "title": "Aktiveringsforløb, 10 timer om ugen",
                    "hours_per_week": 10,
                    "starts_on": (danish_today() - timedelta(days=30)).isoformat(),
                },
                "citizen_display_name": "Testborger Jensen",
                "jobcenter_contact": {"name": "Kim Testesen"},
                "reporting_interval_days": days,
            },
        )
    assert response.status_code == 201, response.text
    referral_id: str = response.json()["referral_id"]
    return referral_id


async def start(gateway: httpx.AsyncClient, referral_id: str, started_on: date) -> None:
    for step, body in (("accept", {}), ("start", {"occurred_on": started_on.isoformat()})):
        response = await gateway.post(f"/v1/referrals/{referral_id}/{step}", json=body)
        assert response.status_code == 200, response.text


async def feed_entries(gateway: httpx.AsyncClient, referral_id: str, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await gateway.get("/v1/feed", params={"limit": 500})).json()["items"]
    return [item for item in items if item["kind"] == kind and item["referral_id"] == referral_id]


async def test_a_report_not_sent_raises_one_task_and_a_mark_that_the_next_report_clears(
    running_stack: RunningStack,
) -> None:
    provider = f"rapport-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer_with_interval(running_stack, provider, subject, days=7)
    today = danish_today()
    due = today - timedelta(days=3)  # started ten days ago, a report every seven days
    async with provider_client(running_stack, provider) as gateway, running_stack.employment() as employment:
        referral = await wait_for(lambda: visible_to_provider(gateway, referral_id))
        assert referral["reporting_interval_days"] == 7 and referral["progress_report_due_on"] is None
        await start(gateway, referral_id, today - timedelta(days=10))

        async def marked() -> dict[str, Any] | None:
            seen = await visible_to_provider(gateway, referral_id)
            return seen if seen and seen["progress_report_overdue_since"] else None

        referral = await wait_for(marked)
        assert referral["progress_report_overdue_since"] == (due + timedelta(days=1)).isoformat()
        assert referral["progress_report_due_on"] == due.isoformat()
        caseworker_view = (await employment.get(f"/v1/referrals/{referral_id}")).json()
        assert caseworker_view["progress_report_overdue_since"] == (due + timedelta(days=1)).isoformat()
        tasks = (
            await employment.get(
                "/v1/tasks", params={"citizen_ref": subject, "kind": "chase-progress-report"}
            )
        ).json()["items"]
        assert [(task["status"], task["referral_id"]) for task in tasks] == [("open", referral_id)]
        assert len(await feed_entries(gateway, referral_id, "progress-report-overdue")) == 1

        sent = await gateway.post(
            f"/v1/referrals/{referral_id}/progress-reports",
            json={
                "period_from": (today - timedelta(days=10)).isoformat(),
                "period_to": today.isoformat(),
                "progression": "some",
                "attendance_percent": 80,
                "summary": "Kommer stabilt; arbejder med mødetider.",
                "recommendation": "continue",
            },
        )
        assert sent.status_code == 202, sent.text

        async def cleared() -> dict[str, Any] | None:
            seen = await visible_to_provider(gateway, referral_id)
            return seen if seen and seen["progress_report_overdue_since"] is None else None

        referral = await wait_for(cleared)
        next_due = (today + timedelta(days=7)).isoformat()
        assert referral["progress_report_due_on"] == next_due
        caseworker_view = (await employment.get(f"/v1/referrals/{referral_id}")).json()
        assert caseworker_view["progress_report_overdue_since"] is None
        assert caseworker_view["progress_report_due_on"] == next_due
        tasks = (
            await employment.get(
                "/v1/tasks", params={"citizen_ref": subject, "kind": "chase-progress-report"}
            )
        ).json()["items"]
        assert [task["status"] for task in tasks] == ["closed"]
    conn = await asyncpg.connect(running_stack.env["EMPLOYMENT_DATABASE_URL"])
    try:
        on_time = await conn.fetchval(
            "SELECT on_time FROM provider_report WHERE submission_id = $1",
            uuid.UUID(sent.json()["submission_id"]),
        )
    finally:
        await conn.close()
    assert on_time is False


async def test_the_provider_is_reminded_once_before_a_report_is_due_and_sees_a_new_interval(
    running_stack: RunningStack,
) -> None:
    provider = f"paamind-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer_with_interval(running_stack, provider, subject, days=7)
    today = danish_today()
    started_on = today - timedelta(days=5)  # due in two days: within the five days' notice
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        await start(gateway, referral_id, started_on)
        reminders = await wait_for(lambda: feed_entries(gateway, referral_id, "progress-report-due"))
        assert [item["data"] for item in reminders] == [
            {"due_on": (today + timedelta(days=2)).isoformat(), "days_left": 2}
        ]
        referral = await visible_to_provider(gateway, referral_id)
        assert (
            referral is not None
            and referral["progress_report_due_on"] == (today + timedelta(days=2)).isoformat()
        )

        async with running_stack.employment() as employment:
            changed = await employment.post(
                f"/v1/referrals/{referral_id}/reporting-interval", json={"reporting_interval_days": 3}
            )
        assert changed.status_code == 200, changed.text
        assert changed.json()["progress_report_due_on"] == (started_on + timedelta(days=3)).isoformat()
        # The shorter interval makes the report overdue: announced by a later round of the
        # scheduler, which by then has looked at the referral again without reminding anew.
        await wait_for(lambda: feed_entries(gateway, referral_id, "progress-report-overdue"))
        referral = await visible_to_provider(gateway, referral_id)
        assert referral is not None and referral["reporting_interval_days"] == 3
        assert len(await feed_entries(gateway, referral_id, "progress-report-due")) == 1


async def test_an_interval_changed_after_an_overdue_report_moves_the_mark_alike_on_both_sides(
    running_stack: RunningStack,
) -> None:
    """Overdue on seven days, the interval shortened to five keeps the one chase and marks the
    report overdue from the day after its new due date on both sides; lengthened to 28, the
    report is due ahead: the mark is gone on both sides and the chase task closed."""
    provider = f"interval-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer_with_interval(running_stack, provider, subject, days=7)
    today = danish_today()
    async with provider_client(running_stack, provider) as gateway, running_stack.employment() as employment:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        await start(gateway, referral_id, today - timedelta(days=10))
        await wait_for(lambda: feed_entries(gateway, referral_id, "progress-report-overdue"))

        async def change_to(days: int) -> dict[str, Any]:
            changed = await employment.post(
                f"/v1/referrals/{referral_id}/reporting-interval", json={"reporting_interval_days": days}
            )
            assert changed.status_code == 200, changed.text
            caseworker_view: dict[str, Any] = changed.json()

            async def seen_by_provider() -> dict[str, Any] | None:
                seen = await visible_to_provider(gateway, referral_id)
                due = caseworker_view["progress_report_due_on"]
                return seen if seen and seen["progress_report_due_on"] == due else None

            provider_view = await wait_for(seen_by_provider)
            assert (
                provider_view["progress_report_overdue_since"]
                == caseworker_view["progress_report_overdue_since"]
            )
            return caseworker_view

        async def chase_tasks() -> list[str]:
            tasks = (
                await employment.get(
                    "/v1/tasks", params={"citizen_ref": subject, "kind": "chase-progress-report"}
                )
            ).json()["items"]
            return [task["status"] for task in tasks]

        shortened = await change_to(5)
        assert shortened["progress_report_due_on"] == (today - timedelta(days=5)).isoformat()
        assert shortened["progress_report_overdue_since"] == (today - timedelta(days=4)).isoformat()
        assert await chase_tasks() == ["open"]

        lengthened = await change_to(28)
        assert lengthened["progress_report_due_on"] == (today + timedelta(days=18)).isoformat()
        assert lengthened["progress_report_overdue_since"] is None
        assert await chase_tasks() == ["closed"]
        assert len(await feed_entries(gateway, referral_id, "progress-report-overdue")) == 1
