"""The portal's pages that the other browser tests do not open pass axe-core too: a step's own
form, the page that explains a step the referral's status does not allow, each report form, and
the page for a referral that is not there (or not the provider's)."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page

from tests.e2e.browser.conftest import assert_accessible, login
from tests.e2e.browser.test_portal_scenario import a_person
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import refer
from tests.support import wait_for

pytestmark = pytest.mark.e2e


async def test_every_other_portal_page_passes_axe(page: Page, running_stack: RunningStack) -> None:
    base = running_stack.url("provider-gateway")
    provider_id = f"browser-axe-{uuid.uuid4().hex[:8]}"
    email, password = await a_person(running_stack, provider_id, "Anne Andersen")
    referral_id = await refer(running_stack, provider_id)
    await login(page, base, email, password)

    async def arrived() -> bool:
        answer = await page.goto(f"{base}/portal/referrals/{referral_id}/steps/reject")
        return answer is not None and answer.status == 200

    await wait_for(arrived)
    await page.locator("#reject-reason").wait_for()  # the step's own form: a reason and its category
    await assert_accessible(page)

    refused = await page.goto(f"{base}/portal/referrals/{referral_id}/steps/start")
    assert refused is not None and refused.status == 409  # not accepted yet: explained, not offered
    await assert_accessible(page)

    for kind in ("progress-report", "readiness-report", "plan-change-request"):
        form = await page.goto(f"{base}/portal/referrals/{referral_id}/reports/{kind}")
        assert form is not None and form.status == 200, kind
        await assert_accessible(page)

    missing = await page.goto(f"{base}/portal/referrals/{uuid.uuid4()}")
    assert missing is not None and missing.status == 404
    await assert_accessible(page)
