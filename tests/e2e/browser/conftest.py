"""Browser tests of the provider portal: Playwright for Python driving Debian's Chromium
(`make chromium` installs it with apt-get; Playwright never downloads a browser), against the
e2e `running_stack` (these tests live under tests/e2e/ to share it).

- `browser`: one Chromium per test process; `page`: a fresh browser context (no cookies) per
  test, in Danish.
- `login(page, base_url, email, password)`: through the login form, as a person would.
- `assert_accessible(page)`: axe-core (bundled in axe-playwright-python, no network) on the page
  as it is now; fails on any serious or critical violation, naming the rule and the elements.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.conftest import RunningStack

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

BLOCKING_IMPACTS = ("serious", "critical")
_axe = Axe()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: `make chromium` installs it (apt-get install chromium)"
    async with async_playwright() as playwright:
        # Its own interface language decides how date fields read (dd.mm.åååå in Danish).
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--lang=da-DK"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, running_stack: RunningStack) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=running_stack.url("provider-gateway"), locale="da-DK", timezone_id="Europe/Copenhagen"
    )
    context.set_default_timeout(30_000)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def login(page: Page, base_url: str, email: str, password: str) -> None:
    """Log in through the portal's login form; returns on the page the login leads to."""
    await page.goto(f"{base_url}/portal/login")
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(password)
    async with page.expect_navigation():
        await page.locator("form[action='/portal/login'] button[type=submit]").click()


def blocking_violations(results: dict[str, Any]) -> list[str]:
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node.get("target")) for node in violation.get("nodes", []))
        for violation in results.get("violations", [])
        if violation.get("impact") in BLOCKING_IMPACTS
    ]


async def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    results = await _axe.run(page)
    found = blocking_violations(results.response)
    assert not found, f"{page.url}: " + "; ".join(found)
