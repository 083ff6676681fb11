"""The provider portal's read side in a real browser, on realistic Danish data: the start page,
the inbox (searched with the keyboard), a referral and a report's closed loop pass axe-core; and
the screenshots of the inbox and a referral in docs/portal/ are taken here.

To take the screenshots again (they go to a temporary directory otherwise):

    PORTAL_SCREENSHOTS=docs/portal .venv/bin/python -m pytest \
        tests/e2e/browser/test_portal_read_pages.py
"""

from __future__ import annotations

import functools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.e2e.browser.conftest import assert_accessible, login
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, visible_to_provider
from tests.e2e.test_portal_pages import refer_named
from tests.e2e.test_provider_shares import HOUSING, TREATMENT, shared
from tests.infra import Infra
from tests.portal_support import add_portal_person
from tests.support import produce, wait_for

pytestmark = pytest.mark.e2e


# The citizens of the inbox: their offer, and what the provider did with each referral (through
# the API), oldest first.
def _offer(kind: str, title: str, hours: float, starts_on: str, ends_on: str | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": title,
        "hours_per_week": hours,
        "starts_on": starts_on,
        "expected_end_on": ends_on,
    }


CITIZENS: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {
    "Jonas Holm": (
        _offer("company-internship", "Virksomhedspraktik i køkkenet", 20, "2026-12-07", "2027-03-05"),
        [("reject", {"reason": "Ingen ledig plads før marts.", "reason_category": "provider-capacity"})],
    ),
    "Camilla Bæk": (
        _offer("activation", "Aktiveringsforløb med nedsat tid", 8, "2026-11-16", "2027-02-26"),
        [
            ("accept", {}),
            ("start", {}),
            ("hold", {"reason": "Indlagt til udredning i tre uger."}),
        ],
    ),
    "Mikkel Ørum": (
        _offer("activation", "Værkstedsforløb med praktik", 12.5, "2026-11-23", "2027-05-28"),
        [("accept", {}), ("start", {})],
    ),
    "Ahmad Karimi": (
        _offer("education", "Danskundervisning og arbejdsmarkedsforståelse", 15, "2027-01-04", "2027-06-25"),
        [("accept", {})],
    ),
    "Sofie Lund": (_offer("mentor", "Mentorstøtte", 3, "2027-01-11", None), []),
    "Freja Nørgaard": (
        _offer("activation", "Afklaringsforløb i værksted", 10, "2027-01-04", "2027-04-02"),
        [],
    ),
}


@dataclass
class Provider:
    provider_id: str
    email: str
    password: str
    referrals: dict[str, str]
    submission_id: str


async def realistic_provider(stack: RunningStack, infra: Infra) -> Provider:
    """An activation centre with six referrals in every tab; Mikkel Ørum's referral has the
    measures his consent shares and an absence notice the jobcenter has assessed."""
    provider_id = f"aktivcenter-nord-{uuid.uuid4().hex[:4]}"
    subjects = {name: await stack.enrol() for name in CITIZENS}
    referrals = {
        name: await refer_named(stack, provider_id, name, subjects[name], offer)
        for name, (offer, _) in CITIZENS.items()
    }
    mikkel = referrals["Mikkel Ørum"]
    async with provider_client(stack, provider_id) as gateway:
        for name, (_, steps) in CITIZENS.items():
            await wait_for(functools.partial(visible_to_provider, gateway, referrals[name]))
            for action, body in steps:
                answer = await gateway.post(f"/v1/referrals/{referrals[name]}/{action}", json=body)
                assert answer.status_code == 200, answer.text
        await produce(
            infra.bootstrap_servers,
            shared(subjects["Mikkel Ørum"], uuid.uuid4(), provider_id, [TREATMENT, HOUSING]),
        )
        sent = await gateway.post(
            f"/v1/referrals/{mikkel}/absence-notices",
            json={
                "absent_from": "2026-11-30",
                "reason": "illness",
                "contact_attempts": [{"on": "2026-12-01", "channel": "phone"}],
                "comment": "Meldt syg om morgenen; ikke hørt fra siden.",
            },
        )
        assert sent.status_code == 202, sent.text
        submission_id = sent.json()["submission_id"]

        async def in_state(status: str) -> dict[str, Any] | None:
            submission: dict[str, Any] = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return submission if submission["status"] == status else None

        await wait_for(lambda: in_state("acted-on"))
        async with stack.employment() as employment:
            assessed = await employment.post(
                f"/v1/citizens/{subjects['Mikkel Ørum']}/absence-assessments",
                json={
                    "submission_id": submission_id,
                    "acceptable": True,
                    "action_taken": "no-action-needed",
                    "note": "Lægeerklæring modtaget.",
                    "note_to_provider": "Sygdom dokumenteret; forventes tilbage mandag.",
                },
            )
            assert assessed.status_code == 204, assessed.text
        await wait_for(lambda: in_state("final"))

        async def measures_shown() -> bool:
            referral = await visible_to_provider(gateway, mikkel)
            return bool(referral and referral["shared_social_measures"])

        await wait_for(measures_shown)
    email = f"lise.larsen-{uuid.uuid4().hex[:6]}@aktivcenter.example"
    password = await add_portal_person(
        stack.env["PROVIDER_GATEWAY_DATABASE_URL"], provider_id, email, "Lise Larsen"
    )
    return Provider(provider_id, email, password, referrals, submission_id)


def screenshot_dir(tmp_path: Path) -> Path:
    """Where the screenshots go: $PORTAL_SCREENSHOTS (e.g. docs/portal) or the test's own."""
    wanted = os.environ.get("PORTAL_SCREENSHOTS")
    directory = Path(wanted) if wanted else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


async def test_the_read_pages_pass_axe_and_the_inbox_and_a_referral_are_photographed(
    page: Page, running_stack: RunningStack, infra: Infra, tmp_path: Path
) -> None:
    base = running_stack.url("provider-gateway")
    provider = await realistic_provider(running_stack, infra)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await login(page, base, provider.email, provider.password)

    # The start page: what came since the last visit, each linked to its referral or report.
    assert page.url == f"{base}/portal/"
    new = page.locator("#new-notifications")
    assert "Ny henvisning af Freja Nørgaard" in await new.inner_text()
    assert "Jobcentret har vurderet fraværet for Mikkel Ørum" in await new.inner_text()
    await assert_accessible(page)

    # The inbox: all six, newest change first; then found by name with the keyboard only.
    await page.get_by_role("link", name="Henvisninger", exact=True).click()
    await page.wait_for_url(f"{base}/portal/referrals")
    rows = page.locator("table.inbox tbody tr")
    assert await rows.count() == len(CITIZENS)
    await assert_accessible(page)
    shots = screenshot_dir(tmp_path)
    await page.screenshot(path=str(shots / "inbox.png"), full_page=True)

    await page.get_by_label("Søg på borgerens navn").fill("ørum")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await rows.count() == 1
    await page.get_by_role("link", name="Mikkel Ørum").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")

    # The referral: offer, contact, history, the measures shared on consent, the report sent.
    assert page.url == f"{base}/portal/referrals/{provider.referrals['Mikkel Ørum']}"
    assert "I gang" in await page.locator("#referral-status").inner_text()
    assert "Psykiatrisk behandling" in await page.locator("#shared-measures").inner_text()
    assert "Endelig" in await page.locator("#sent-reports").inner_text()
    await assert_accessible(page)
    await page.screenshot(path=str(shots / "referral.png"), full_page=True)

    # The report's closed loop.
    await page.locator("#sent-reports").get_by_role("link", name="Fraværsmelding").click()
    await page.wait_for_url(f"{base}/portal/submissions/{provider.submission_id}")
    assert "Fraværet er acceptabelt" in await page.locator("#acknowledgements").inner_text()
    await assert_accessible(page)
    # In English too.
    await page.goto(f"{base}/portal/submissions/{provider.submission_id}?lang=en")
    assert "The absence is acceptable" in await page.locator("#acknowledgements").inner_text()
    await page.goto(f"{base}/portal/?lang=da")

    # Back on the start page the notifications are still new (viewing marks nothing) until the
    # person marks them seen; then they are among those seen before.
    assert "Ny henvisning af Freja Nørgaard" in await new.inner_text()
    await page.get_by_role("button", name="Markér som set").click()
    await page.wait_for_url(f"{base}/portal/")
    await page.locator("#nothing-new").wait_for()
    assert "Ny henvisning af Freja Nørgaard" in await page.locator("#content").inner_text()
    await assert_accessible(page)
