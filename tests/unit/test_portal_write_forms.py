"""The portal's forms on a referral, without a stack: only the steps the state machine allows
are offered, the models' refusals become messages by the form's fields, and a CPR number typed
into a form is taken out before the route sees it and named for the route to show."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError

from provider_gateway.domain.lifecycle import ACTIONS
from provider_gateway.portal import actions, web
from provider_gateway.service_layer import reports
from provider_gateway.service_layer.reports import REPORT_KINDS
from samspil.runtime.cpr_guard import CPR_FIELDS, CprGuard
from schemas.referrals import ReferralStatus
from tests.support import random_cpr

OFFERED = {
    ReferralStatus.REQUESTED: ["accept", "reject", "cancel"],
    ReferralStatus.ACCEPTED: ["start", "hold", "complete", "fail", "cancel"],
    ReferralStatus.IN_PROGRESS: ["hold", "complete", "fail", "cancel"],
    ReferralStatus.ON_HOLD: ["resume", "complete", "fail", "cancel"],
    ReferralStatus.COMPLETED: [],
    ReferralStatus.REJECTED: [],
    ReferralStatus.FAILED: [],
    ReferralStatus.CANCELLED: [],
}


@pytest.mark.parametrize(("status", "offered"), OFFERED.items())
def test_a_referral_offers_the_steps_its_status_allows_each_a_form_with_its_tokens(
    status: ReferralStatus, offered: list[str]
) -> None:
    web.use_language("da")
    page = web.templates.get_template("referral_actions.html").render(
        referral={"referral_id": "r-1", "status": status.value}, csrf_token="the-csrf-token"
    )
    assert re.findall(r'action="/portal/referrals/r-1/steps/([a-z]+)"', page) == offered
    assert page.count('name="csrf_token" value="the-csrf-token"') == len(offered)
    keys = re.findall(r'name="idempotency_key" value="([A-Za-z]+)"', page)
    assert len(set(keys)) == len(offered)  # a fresh key per form
    assert set(offered) <= set(ACTIONS)


def test_a_closed_referral_offers_no_report_form() -> None:
    page = web.templates.get_template("referral_reports.html").render(
        referral={"referral_id": "r-1", "status": "completed"}
    )
    assert "reports/" not in page


def refusal(kind: str, values: dict[str, str]) -> dict[str, str]:
    form = {field.name: "" for field in actions.REPORT_FIELDS[kind]} | values
    if kind == "absence-notice":
        form |= {f"attempt_{part}_{row}": "" for row in range(3) for part in ("on", "channel")} | values
    body, names = actions.report_body(kind, form)
    report_kind = REPORT_KINDS[kind]
    try:
        model = report_kind.body.model_validate(body)
        reports.build_report(report_kind, uuid.uuid4(), "provider-a", model)
    except ValidationError as error:
        found = actions.field_errors(error, names, set(form))
        return {**actions.whole_report_errors(report_kind, body, names, set(form)), **found}
    return {}


def test_the_models_refusals_become_messages_by_the_forms_fields() -> None:
    assert refusal("absence-notice", {"absent_from": "2026-11-16", "absent_to": "2026-11-10"}) == {
        "absent_to": "The end may not be before the start."
    }
    assert refusal("absence-notice", {"absent_from": "16/11", "attempt_on_1": "2026-11-17"}) == {
        "absent_from": "Enter a date (day, month and year).",
        "attempt_channel_1": "Choose one of the options.",
    }
    assert refusal(
        "progress-report",
        {
            "period_from": "2026-12-01",
            "period_to": "2027-02-28",
            "progression": "some",
            "attendance_percent": "120",
            "summary": "Kommer stabilt.",
            "recommendation": "continue",
            "concern": "yes",
        },
    ) == {
        "attendance_percent": "Enter a number from 0 to 100.",
        "concern_text": "Describe the concern when you tick it.",
    }
    assert refusal("readiness-report", {"ready_for": "other"}) == {
        "ready_for_text": "Write what for when you choose 'Other'.",
        "justification": "Fill in this field.",
    }
    assert refusal("plan-change-request", {"target_plan": "job-plan", "change_kind": "hours"}) == {
        "proposed_change": "Fill in this field.",
        "reason": "Fill in this field.",
    }


def guarded_app() -> FastAPI:
    app = FastAPI()

    @app.post("/portal/referrals/r-1/steps/hold")
    async def hold(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"form": dict(form), "cpr_fields": getattr(request.state, CPR_FIELDS, None)}

    @app.post("/portal/login")
    async def log_in(request: Request) -> dict[str, Any]:
        return {"form": dict(await request.form())}

    return app


async def test_a_cpr_number_in_a_referral_form_is_taken_out_and_named_for_the_route() -> None:
    cpr = random_cpr()
    guarded = CprGuard(guarded_app(), forms_to_routes=(actions.PORTAL_REFERRAL_FORMS,))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded), base_url="http://portal"
    ) as client:
        taken_out = await client.post(
            "/portal/referrals/r-1/steps/hold", data={"reason": f"Indlagt, cpr {cpr}", "csrf_token": "t"}
        )
        assert taken_out.status_code == 200
        assert taken_out.json() == {"form": {"reason": "", "csrf_token": "t"}, "cpr_fields": ["reason"]}
        assert cpr not in taken_out.text

        plain = await client.post("/portal/referrals/r-1/steps/hold", data={"reason": "Indlagt."})
        assert plain.json() == {"form": {"reason": "Indlagt."}, "cpr_fields": None}

        as_json = await client.post("/portal/referrals/r-1/steps/hold", json={"reason": cpr})
        elsewhere = await client.post("/portal/login", data={"email": cpr})
        assert as_json.status_code == elsewhere.status_code == 422  # refused at the door, as ever
