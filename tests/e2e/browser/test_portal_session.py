"""The provider portal's login, logout, CSRF protection and session expiry in a real browser,
and its login and start pages pass axe-core."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from playwright.async_api import Page

from tests.e2e.browser.conftest import assert_accessible, login
from tests.e2e.conftest import RunningStack
from tests.portal_support import add_portal_person

pytestmark = pytest.mark.e2e


async def a_person(stack: RunningStack, name: str = "Lise Larsen") -> tuple[str, str, str]:
    provider_id = f"browser-{uuid.uuid4().hex[:8]}"
    email = f"lise-{uuid.uuid4().hex[:8]}@example.org"
    password = await add_portal_person(stack.env["PROVIDER_GATEWAY_DATABASE_URL"], provider_id, email, name)
    return provider_id, email, password


async def sessions_of(stack: RunningStack, email: str) -> int:
    conn = await asyncpg.connect(stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM portal_session JOIN portal_person USING (person_id)"
            " WHERE lower(email) = lower($1)",
            email,
        )
        return count
    finally:
        await conn.close()


async def session_cookies(page: Page) -> list[str]:
    return [cookie["name"] for cookie in await page.context.cookies() if "samspil_portal" == cookie["name"]]


async def test_a_wrong_password_shows_the_error_and_starts_no_session(
    page: Page, running_stack: RunningStack
) -> None:
    base = running_stack.url("provider-gateway")
    _, email, _ = await a_person(running_stack)
    await login(page, base, email, "definitely not it")
    assert page.url.startswith(f"{base}/portal/login")
    alert = page.get_by_role("alert")
    assert "Forkert e-mailadresse eller adgangskode" in await alert.inner_text()
    assert await session_cookies(page) == []
    assert await sessions_of(running_stack, email) == 0


async def test_a_person_logs_in_and_out(page: Page, running_stack: RunningStack) -> None:
    base = running_stack.url("provider-gateway")
    provider_id, email, password = await a_person(running_stack, "Lise Larsen")
    await page.goto(f"{base}/portal/")
    assert page.url.startswith(f"{base}/portal/login")  # sent to log in first
    await login(page, base, email, password)
    assert page.url == f"{base}/portal/"
    header = await page.locator("header").inner_text()
    assert "Lise Larsen" in header and provider_id in header
    assert await sessions_of(running_stack, email) == 1

    cookie = next(c for c in await page.context.cookies() if c["name"] == "samspil_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["expires"] == -1  # ends with the browser; the server's limits end it sooner

    async with page.expect_navigation():
        await page.get_by_role("button", name="Log ud").click()
    assert page.url.startswith(f"{base}/portal/login")
    assert await sessions_of(running_stack, email) == 0
    await page.goto(f"{base}/portal/")
    assert page.url.startswith(f"{base}/portal/login")


async def test_a_post_without_the_right_csrf_token_or_from_another_origin_is_refused_and_does_nothing(
    page: Page, running_stack: RunningStack
) -> None:
    base = running_stack.url("provider-gateway")
    _, email, password = await a_person(running_stack)
    await login(page, base, email, password)
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    # The browser's own cookies go with each, as with a form another site posts here.
    attempts: list[tuple[dict[str, str | float | bool], dict[str, str]]] = [
        ({}, {}),
        ({"csrf_token": "forged-token"}, {}),
        ({"csrf_token": token}, {"Origin": "https://evil.example"}),
    ]
    for form, headers in attempts:
        refused = await page.request.post(f"{base}/portal/logout", form=form, headers=headers)
        assert refused.status == 403, (form, headers)
        assert await sessions_of(running_stack, email) == 1  # not logged out
    await page.goto(f"{base}/portal/")
    assert page.url == f"{base}/portal/"


async def test_an_idle_session_is_refused_and_sent_to_log_in(page: Page, running_stack: RunningStack) -> None:
    base = running_stack.url("provider-gateway")
    _, email, password = await a_person(running_stack)
    await login(page, base, email, password)
    conn = await asyncpg.connect(running_stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:  # last used 31 minutes ago: past the 30 idle minutes
        await conn.execute(
            "UPDATE portal_session SET last_seen_at = now() - interval '31 minutes'"
            " WHERE person_id = (SELECT person_id FROM portal_person WHERE email = $1)",
            email,
        )
    finally:
        await conn.close()
    await page.goto(f"{base}/portal/")
    assert page.url.startswith(f"{base}/portal/login")
    assert "Din session er udløbet" in await page.get_by_role("status").inner_text()
    assert await session_cookies(page) == []  # the ended session's cookie is removed
    refused = await page.request.post(f"{base}/portal/logout", form={"csrf_token": "x"})
    assert refused.status == 403


async def test_the_login_and_start_pages_pass_axe(page: Page, running_stack: RunningStack) -> None:
    base = running_stack.url("provider-gateway")
    _, email, password = await a_person(running_stack)
    await page.goto(f"{base}/portal/login")
    await assert_accessible(page)
    await login(page, base, email, password)
    assert page.url == f"{base}/portal/"
    await assert_accessible(page)
