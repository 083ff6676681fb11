"""The portal's write side through the running gateway and departments: a step taken from a
page form changes the referral exactly as the API's step does, a step the status forbids is
refused, a report form the models refuse shows its messages by the fields and writes nothing,
the same form sent twice makes one report, and another provider's person cannot act on the
referral."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.portal_support import PortalClient, add_portal_person
from tests.support import random_cpr, wait_for

pytestmark = pytest.mark.e2e

_FORM_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def gateway_db(stack: RunningStack) -> str:
    return stack.env["PROVIDER_GATEWAY_DATABASE_URL"]


async def logged_in(stack: RunningStack, provider_id: str) -> PortalClient:
    email = f"kontakt-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(stack), provider_id, email)
    portal = PortalClient(stack.url("provider-gateway"))
    assert (await portal.log_in(email, password)).status_code == 303
    return portal


async def referred(stack: RunningStack, portal: PortalClient, provider_id: str) -> str:
    """A new referral to the provider, once the gateway has it."""
    referral_id = await refer(stack, provider_id)

    async def arrived() -> bool:
        response = await portal.get(f"/portal/referrals/{referral_id}/steps/accept")
        return response.status_code == 200

    await wait_for(arrived)
    return referral_id


async def step(portal: PortalClient, referral_id: str, action: str, **fields: str) -> httpx.Response:
    """Open the step's form and send it as the page would (its CSRF token and form key)."""
    page = await portal.get(f"/portal/referrals/{referral_id}/steps/{action}")
    assert page.status_code == 200, page.text
    return await portal.post(
        f"/portal/referrals/{referral_id}/steps/{action}", {"idempotency_key": form_key(page), **fields}
    )


def form_key(page: httpx.Response) -> str:
    found = _FORM_KEY.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def rows(stack: RunningStack, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(gateway_db(stack))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def history(stack: RunningStack, referral_id: str) -> list[tuple[Any, ...]]:
    found = await rows(
        stack,
        "SELECT status, changed_by, occurred_on, reason, reason_category FROM referral_status_change"
        " WHERE referral_id = $1 ORDER BY id",
        uuid.UUID(referral_id),
    )
    return [tuple(row) for row in found]


async def submissions(stack: RunningStack, referral_id: str) -> list[asyncpg.Record]:
    return await rows(
        stack, "SELECT submission_id, kind FROM submission WHERE referral_id = $1", uuid.UUID(referral_id)
    )


async def test_steps_from_the_page_forms_change_the_referral_as_the_apis_steps_do(
    running_stack: RunningStack,
) -> None:
    provider_id = f"portal-steps-{uuid.uuid4().hex[:6]}"
    portal = await logged_in(running_stack, provider_id)
    async with portal, provider_client(running_stack, provider_id) as api:
        by_page = await referred(running_stack, portal, provider_id)
        by_api = await refer(running_stack, provider_id)
        await wait_for(lambda: visible_to_provider(api, by_api))

        not_yet = await portal.get(f"/portal/referrals/{by_page}/steps/start")
        assert not_yet.status_code == 409  # not offered: the referral is not accepted
        refused = await portal.post(
            f"/portal/referrals/{by_page}/steps/start", {"idempotency_key": uuid.uuid4().hex}
        )
        assert refused.status_code == 409 and 'role="alert"' in refused.text

        accept = await portal.get(f"/portal/referrals/{by_page}/steps/accept")
        for _ in range(2):  # a double click: one step, the same answer
            done = await portal.post(
                f"/portal/referrals/{by_page}/steps/accept", {"idempotency_key": form_key(accept)}
            )
            assert done.status_code == 303 and done.headers["location"] == f"/portal/referrals/{by_page}"
        assert (await step(portal, by_page, "start")).status_code == 303

        cpr = random_cpr()
        cpr_reason = await step(portal, by_page, "hold", reason=f"Indlagt, cpr {cpr}")
        assert cpr_reason.status_code == 422
        assert 'id="hold-reason-error"' in cpr_reason.text and "CPR-nummeret" in cpr_reason.text
        assert cpr not in cpr_reason.text
        no_reason = await step(portal, by_page, "hold")
        assert no_reason.status_code == 422 and 'id="hold-reason-error"' in no_reason.text

        assert (await step(portal, by_page, "hold", reason="Indlagt i tre uger.")).status_code == 303
        assert (await step(portal, by_page, "resume")).status_code == 303
        done = await step(
            portal, by_page, "fail", reason="Mødte ikke op.", reason_category="citizen-did-not-attend"
        )
        assert done.status_code == 303

        for action, body in [
            ("accept", {}),
            ("start", {}),
            ("hold", {"reason": "Indlagt i tre uger."}),
            ("resume", {}),
            ("fail", {"reason": "Mødte ikke op.", "reason_category": "citizen-did-not-attend"}),
        ]:
            answer = await api.post(f"/v1/referrals/{by_api}/{action}", json=body)
            assert answer.status_code == 200, answer.text

        assert await history(running_stack, by_page) == await history(running_stack, by_api)
        assert [entry[0] for entry in await history(running_stack, by_page)] == [
            "requested",
            "accepted",
            "in-progress",
            "on-hold",
            "in-progress",
            "failed",
        ]
        again = await portal.get(f"/portal/referrals/{by_page}/steps/accept")
        assert again.status_code == 409  # a closed referral offers no step
        audit = await rows(
            running_stack,
            "SELECT path, status FROM audit.audit_log WHERE provider_id = $1 AND method = 'POST'"
            " AND path LIKE '%/steps/%' ORDER BY id",
            provider_id,
        )
        assert (f"/portal/referrals/{by_page}/steps/accept", 303) in [tuple(row) for row in audit]
        # A step's page shows one citizen: its audit row names them, the refused one too
        viewed = await rows(
            running_stack,
            "SELECT status, citizen_ref FROM audit.audit_log WHERE provider_id = $1 AND method = 'GET'"
            " AND path = $2 ORDER BY id",
            provider_id,
            f"/portal/referrals/{by_page}/steps/accept",
        )
        # (a 404 while the referral was on its way shows no one)
        shown = [row for row in viewed if row["status"] != 404]
        assert {row["status"] for row in shown} == {200, 409}
        assert all(row["citizen_ref"] for row in shown), shown


async def test_a_completion_from_the_page_keeps_its_outcome_category_and_shows_it(
    running_stack: RunningStack,
) -> None:
    provider_id = f"portal-done-{uuid.uuid4().hex[:6]}"
    portal = await logged_in(running_stack, provider_id)
    async with portal:
        referral_id = await referred(running_stack, portal, provider_id)
        for action in ("accept", "start"):
            assert (await step(portal, referral_id, action)).status_code == 303
        done = await step(
            portal, referral_id, "complete", outcome="Fik job som lagermedarbejder.", outcome_category="job"
        )
        assert done.status_code == 303, done.text
        [last] = await rows(
            running_stack,
            "SELECT status, reason_category, outcome_category FROM referral_status_change"
            " WHERE referral_id = $1 ORDER BY id DESC LIMIT 1",
            uuid.UUID(referral_id),
        )
        assert tuple(last) == ("completed", None, "job")
        page = await portal.get(f"/portal/referrals/{referral_id}")
        assert "Job (også fleksjob)" in page.text


async def test_a_refused_report_form_shows_the_messages_by_the_fields_and_writes_nothing(
    running_stack: RunningStack,
) -> None:
    provider_id = f"portal-form-{uuid.uuid4().hex[:6]}"
    portal = await logged_in(running_stack, provider_id)
    async with portal:
        referral_id = await referred(running_stack, portal, provider_id)
        path = f"/portal/referrals/{referral_id}/reports/absence-notice"
        page = await portal.get(path)
        cpr = random_cpr()
        refused = await portal.post(
            path,
            {
                "idempotency_key": form_key(page),
                "absent_from": "2026-11-16",
                "absent_to": "2026-11-10",
                "reason": "other",
                "comment": f"Borgerens cpr er {cpr}",
                "attempt_on_0": "2026-11-17",
                "attempt_channel_0": "",
            },
        )
        assert refused.status_code == 422
        text = refused.text
        for field in ("absent_to", "reason_text", "comment", "attempt_channel_0"):
            assert f'id="{field}-error"' in text, field
            assert re.search(f'aria-describedby="[^"]*{field}-error"', text), field
        assert "Slutningen må ikke ligge før starten." in text  # Danish, by the field
        assert 'value="2026-11-16"' in text and 'value="2026-11-17"' in text  # the values kept
        assert cpr not in text  # the one value not shown again: a CPR number is on no page
        assert await submissions(running_stack, referral_id) == []
        # The form's page and the form refused show one citizen: their audit rows name them.
        named = await rows(
            running_stack,
            "SELECT method, citizen_ref FROM audit.audit_log WHERE provider_id = $1 AND path = $2",
            provider_id,
            path,
        )
        assert sorted(row["method"] for row in named) == ["GET", "POST"]
        assert all(row["citizen_ref"] for row in named), named

        sent = await portal.post(
            path,
            {
                "idempotency_key": form_key(refused),
                "absent_from": "2026-11-16",
                "reason": "illness",
                "attempt_on_0": "2026-11-17",
                "attempt_channel_0": "phone",
            },
        )
        assert sent.status_code == 303
        [submission] = await submissions(running_stack, referral_id)
        assert sent.headers["location"] == f"/portal/submissions/{submission['submission_id']}"


async def test_the_same_report_form_sent_twice_makes_one_report(running_stack: RunningStack) -> None:
    provider_id = f"portal-once-{uuid.uuid4().hex[:6]}"
    portal = await logged_in(running_stack, provider_id)
    async with portal:
        referral_id = await referred(running_stack, portal, provider_id)
        path = f"/portal/referrals/{referral_id}/reports/progress-report"
        form = {
            "idempotency_key": form_key(await portal.get(path)),
            "period_from": "2026-12-01",
            "period_to": "2027-02-28",
            "progression": "some",
            "attendance_percent": "72",
            "summary": "Kommer stabilt tre dage om ugen.",
            "recommendation": "continue",
            "concern": "yes",
            "concern_text": "Sover dårligt.",
        }
        first = await portal.post(path, form)
        second = await portal.post(path, form)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        changed = await portal.post(path, {**form, "attendance_percent": "80"})
        assert changed.status_code == 409  # the key of a sent form, with other values
        [submission] = await submissions(running_stack, referral_id)
        assert submission["kind"] == "progress-report"

        for kind, fields in [
            ("readiness-report", {"ready_for": "education", "justification": "Klar til VUC."}),
            (
                "plan-change-request",
                {
                    "target_plan": "social-plan",
                    "change_kind": "hours",
                    "proposed_change": "Færre timer i december.",
                    "reason": "Behandling om formiddagen.",
                    "urgency": "soon",
                },
            ),
        ]:
            report_path = f"/portal/referrals/{referral_id}/reports/{kind}"
            page = await portal.get(report_path)
            sent = await portal.post(report_path, {"idempotency_key": form_key(page), **fields})
            assert sent.status_code == 303, sent.text
        kinds = sorted(row["kind"] for row in await submissions(running_stack, referral_id))
        assert kinds == ["plan-change-request", "progress-report", "readiness-report"]


async def test_another_providers_person_cannot_act_on_the_referral(running_stack: RunningStack) -> None:
    provider_id = f"portal-own-{uuid.uuid4().hex[:6]}"
    portal = await logged_in(running_stack, provider_id)
    stranger = await logged_in(running_stack, f"portal-other-{uuid.uuid4().hex[:6]}")
    async with portal, stranger:
        referral_id = await referred(running_stack, portal, provider_id)
        for path in (
            f"/portal/referrals/{referral_id}/steps/accept",
            f"/portal/referrals/{referral_id}/reports/absence-notice",
        ):
            assert (await stranger.get(path)).status_code == 404
        await stranger.get("/portal/")
        refused = await stranger.post(
            f"/portal/referrals/{referral_id}/steps/accept", {"idempotency_key": uuid.uuid4().hex}
        )
        assert refused.status_code == 404
        notice = await stranger.post(
            f"/portal/referrals/{referral_id}/reports/absence-notice",
            {"idempotency_key": uuid.uuid4().hex, "absent_from": "2026-11-16"},
        )
        assert notice.status_code == 404
        assert [entry[0] for entry in await history(running_stack, referral_id)] == ["requested"]
        assert await submissions(running_stack, referral_id) == []
