"""The provider portal's whole round in a real browser: a contact person logs in, sees a new
referral, accepts it, sends an absence notice (a first try with an error shows the message by
the field and writes nothing) and sees the jobcenter's assessment of it appear, once the
employment caseworker has assessed it through the employment API. Another provider's person
cannot reach the referral by its URL. The referral page and the report form pass axe-core; a
screenshot of the filled report form is taken, into docs/portal/report-form.png with

    PORTAL_SCREENSHOTS=docs/portal .venv/bin/python -m pytest tests/e2e/browser/test_portal_scenario.py

(into the test's own directory otherwise)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser.conftest import assert_accessible, login
from tests.e2e.browser.test_portal_read_pages import screenshot_dir
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import refer
from tests.portal_support import add_portal_person
from tests.support import wait_for

pytestmark = pytest.mark.e2e


async def gateway_value(stack: RunningStack, query: str, *args: object) -> object:
    conn = await asyncpg.connect(stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def a_person(stack: RunningStack, provider_id: str, name: str) -> tuple[str, str]:
    email = f"kontakt-{uuid.uuid4().hex[:8]}@example.org"
    password = await add_portal_person(stack.env["PROVIDER_GATEWAY_DATABASE_URL"], provider_id, email, name)
    return email, password


async def test_a_contact_person_accepts_a_referral_reports_absence_and_sees_the_assessment(
    page: Page, browser: Browser, running_stack: RunningStack, tmp_path: Path
) -> None:
    base = running_stack.url("provider-gateway")
    provider_id = f"browser-{uuid.uuid4().hex[:8]}"
    email, password = await a_person(running_stack, provider_id, "Lise Larsen")
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider_id, subject)
    link = page.locator(f"a[href='/portal/referrals/{referral_id}']")

    await login(page, base, email, password)

    async def listed() -> bool:
        await page.goto(f"{base}/portal/referrals")
        return await link.count() > 0

    await wait_for(listed)  # the new referral reaches the gateway through the broker
    async with page.expect_navigation():
        await link.first.click()
    await assert_accessible(page)
    assert await page.locator("form[action$='/steps/start']").count() == 0  # not offered yet
    async with page.expect_navigation():
        await page.get_by_role("button", name="Accepter", exact=True).click()
    assert page.url == f"{base}/portal/referrals/{referral_id}"
    assert "accepteret" in (await page.locator("#referral-status").inner_text()).lower()
    assert await page.locator("form[action$='/steps/start']").count() == 1  # offered now

    async with page.expect_navigation():
        await page.locator(f"a[href='/portal/referrals/{referral_id}/reports/absence-notice']").click()
    assert await page.locator("h1").inner_text() == "Fraværsmelding"
    await page.locator("#absent_from").fill("2026-11-16")
    await page.locator("#absent_to").fill("2026-11-10")
    await page.locator("#reason").select_option("illness")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Send rapporten").click()
    error = page.locator("#absent_to-error")
    assert await error.inner_text() == "Slutningen må ikke ligge før starten."
    assert await page.locator("#absent_to").get_attribute("aria-invalid") == "true"
    assert await page.locator("#absent_from").input_value() == "2026-11-16"  # the values kept
    sent_before = "SELECT count(*) FROM submission WHERE referral_id = $1"
    assert await gateway_value(running_stack, sent_before, uuid.UUID(referral_id)) == 0
    await assert_accessible(page)

    await page.goto(f"{base}/portal/referrals/{referral_id}/reports/absence-notice")  # a fresh form
    await page.locator("#absent_from").fill("2026-11-16")
    await page.locator("#absent_to").fill("2026-11-20")
    await page.locator("#reason").select_option("illness")
    await page.locator("#comment").fill("Ikke set siden mandag; telefonen besvares ikke.")
    await page.locator("#attempt_on_0").fill("2026-11-17")
    await page.locator("#attempt_channel_0").select_option("phone")
    await page.locator("#attempt_on_1").fill("2026-11-18")
    await page.locator("#attempt_channel_1").select_option("text-message")
    await assert_accessible(page)
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.screenshot(path=str(screenshot_dir(tmp_path) / "report-form.png"), full_page=True)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Send rapporten").click()
    assert page.url.startswith(f"{base}/portal/submissions/")
    submission_id = page.url.rsplit("/", 1)[1]

    async def acted_on() -> bool:
        status = await gateway_value(
            running_stack, "SELECT status FROM submission WHERE submission_id = $1", uuid.UUID(submission_id)
        )
        return status == "acted-on"

    await wait_for(acted_on)  # the jobcenter has the notice and made its task
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

    # No reload: the page (htmx) fetches its state again until the report is final.
    await expect(page.locator("#acknowledgements")).to_contain_text("Fraværet er acceptabelt", timeout=90_000)
    await expect(page.locator("#submission-status")).to_have_text("Endelig")
    assert await page.locator("#submission-state").get_attribute("hx-trigger") is None  # final: polling stops
    await assert_accessible(page)

    stranger_email, stranger_password = await a_person(
        running_stack, f"browser-other-{uuid.uuid4().hex[:6]}", "Ole Olsen"
    )
    other = await browser.new_context(base_url=base, locale="da-DK")
    try:
        stranger = await other.new_page()
        await login(stranger, base, stranger_email, stranger_password)
        for path in (
            f"/portal/referrals/{referral_id}",
            f"/portal/referrals/{referral_id}/reports/absence-notice",
        ):
            answer = await stranger.goto(f"{base}{path}")
            assert answer is not None and answer.status == 404, path
            assert "Lise" not in await stranger.content() and "Testborger" not in await stranger.content()
    finally:
        await other.close()
