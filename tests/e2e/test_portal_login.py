"""Logging in to and out of the provider portal through the running gateway, with a person of
the built-in user store: the session names the person on every page and in the audit trail,
and ends at logout."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import asyncpg
import pytest

from provider_gateway.portal import people
from tests.e2e.conftest import RunningStack
from tests.portal_support import PortalClient, add_portal_person
from tests.support import random_cpr

pytestmark = pytest.mark.e2e


def gateway_db(stack: RunningStack) -> str:
    return stack.env["PROVIDER_GATEWAY_DATABASE_URL"]


async def test_a_person_logs_in_sees_their_name_and_logs_out(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"anne-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(running_stack), provider_id, email, "Anne Andersen")
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        assert (await portal.get("/portal/")).headers["location"] == "/portal/login?next=/portal/"

        logged_in = await portal.log_in(email, password)
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/portal/"
        start = await portal.get("/portal/")
        assert start.status_code == 200
        assert "Anne Andersen" in start.text and provider_id in start.text

        logged_out = await portal.log_out()
        assert logged_out.status_code == 303 and logged_out.headers["location"] == "/portal/login"
        assert (await portal.get("/portal/")).status_code == 303  # the session is gone

    conn = await asyncpg.connect(gateway_db(running_stack))
    try:
        rows = await conn.fetch(
            "SELECT method, path, status, provider_id FROM audit.audit_log WHERE client_id = $1 ORDER BY id",
            f"portal:{email}",
        )
        sessions = await conn.fetchval(
            "SELECT count(*) FROM portal_session s JOIN portal_person p USING (person_id) WHERE p.email = $1",
            email,
        )
    finally:
        await conn.close()
    seen = [(row["method"], row["path"], row["status"]) for row in rows]
    assert ("POST", "/portal/login", 303) in seen
    assert ("GET", "/portal/", 200) in seen
    assert ("POST", "/portal/logout", 303) in seen
    assert {row["provider_id"] for row in rows} == {provider_id}
    assert sessions == 0


async def test_a_second_login_in_the_same_browser_ends_the_first_session(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"eva-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(running_stack), provider_id, email)
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        first = await portal.log_in(email, password)
        (session_cookie,) = [
            c for c in first.headers.get_list("set-cookie") if c.startswith("samspil_portal=")
        ]
        assert "max-age" not in session_cookie.lower() and "expires" not in session_cookie.lower()
        assert (await portal.log_in(email, password)).status_code == 303
    conn = await asyncpg.connect(gateway_db(running_stack))
    try:
        sessions = await conn.fetchval(
            "SELECT count(*) FROM portal_session s JOIN portal_person p USING (person_id) WHERE p.email = $1",
            email,
        )
    finally:
        await conn.close()
    assert sessions == 1


async def test_a_wrong_password_is_refused_without_a_session(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"bo-{uuid.uuid4().hex[:6]}@example.org"
    await add_portal_person(gateway_db(running_stack), provider_id, email)
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        refused = await portal.log_in(email, "not the password at all")
        assert refused.status_code == 401
        assert 'role="alert"' in refused.text
        assert not any(name.endswith("samspil_portal") for name in portal.http.cookies)
        assert (await portal.get("/portal/")).status_code == 303


async def test_a_post_without_the_csrf_token_is_refused(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"cia-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(running_stack), provider_id, email)
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        await portal.log_in(email, password)
        assert (await portal.post("/portal/logout", {"csrf_token": "forged"})).status_code == 403
        assert (await portal.get("/portal/")).status_code == 200  # still logged in: nothing done


async def test_guessing_a_password_locks_the_account_for_a_while(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"dan-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(running_stack), provider_id, email)
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        for guess in range(5):  # PROVIDER_GATEWAY_PORTAL_LOGIN_ATTEMPTS, by default
            assert (await portal.log_in(email, f"guess number {guess}")).status_code == 401
        # Locked: now even the right password is refused, and the page says no more than before.
        locked = await portal.log_in(email, password)
        assert locked.status_code == 401
        assert "locked for a while" in locked.text or "spærret" in locked.text
        conn = await asyncpg.connect(gateway_db(running_stack))
        try:  # the lockout's 15 minutes have passed
            await conn.execute(
                "UPDATE portal_person SET locked_until = now() - interval '1 second' WHERE email = $1", email
            )
        finally:
            await conn.close()
        # The count starts again: one more slip does not lock the account at once.
        assert (await portal.log_in(email, "one more slip")).status_code == 401
        assert (await portal.log_in(email, password)).status_code == 303


async def test_a_session_ends_at_its_lifetime_however_busy(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"eva-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(running_stack), provider_id, email)
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        assert (await portal.log_in(email, password)).status_code == 303
        assert (await portal.get("/portal/")).status_code == 200
        conn = await asyncpg.connect(gateway_db(running_stack))
        try:  # used a second ago, but logged in longer ago than PROVIDER_GATEWAY_PORTAL_SESSION_HOURS
            await conn.execute(
                "UPDATE portal_session SET expires_at = now() - interval '1 second'"
                " WHERE person_id = (SELECT person_id FROM portal_person WHERE email = $1)",
                email,
            )
        finally:
            await conn.close()
        ended = await portal.get("/portal/?view=all")
        assert ended.status_code == 303
        assert ended.headers["location"] == "/portal/login?next=/portal/%3Fview%3Dall&ended=1"


def samspil_user_add(stack: RunningStack, *args: str, stdin: str | None = None) -> str:
    return samspil_user(stack, "add", *args, stdin=stdin)


def samspil_user(stack: RunningStack, action: str, *args: str, stdin: str | None = None) -> str:
    cli = [sys.executable, "-m", "samspil.cli", "--state-dir", str(stack.stack.state_dir)]
    result = subprocess.run(
        [*cli, "provider", "user", action, *args],
        env=stack.env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


async def test_the_command_line_adds_a_person_who_can_log_in(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"finn-{uuid.uuid4().hex[:6]}@example.org"
    out = samspil_user_add(running_stack, provider_id, email, "--name", "Finn Frost")
    password = next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("password:")
    )
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        assert (await portal.log_in(email, password)).status_code == 303
        assert "Finn Frost" in (await portal.get("/portal/")).text

    # --password-stdin sets the one given, prints none, and the old one stops working.
    out = samspil_user_add(
        running_stack, provider_id, email, "--password-stdin", stdin="a chosen passphrase\n"
    )
    assert "password" not in out and "a chosen passphrase" not in out
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        assert (await portal.log_in(email, password)).status_code == 401
        assert (await portal.log_in(email, "a chosen passphrase")).status_code == 303


async def test_the_command_line_closes_the_portal_to_a_person_at_once_and_opens_it_again(
    running_stack: RunningStack,
) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"gry-{uuid.uuid4().hex[:6]}@example.org"
    password = await add_portal_person(gateway_db(running_stack), provider_id, email, "Gry Gram")
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        assert (await portal.log_in(email, password)).status_code == 303
        out = samspil_user(running_stack, "disable", provider_id, email.upper())
        assert "sessions have ended" in out
        assert (await portal.get("/portal/")).status_code == 303  # the open session ended at once
        assert (await portal.log_in(email, password)).status_code == 401
        listed = [json.loads(line) for line in samspil_user(running_stack, "list", provider_id).splitlines()]
        assert [(p["email"], p["login"], p["sessions"]) for p in listed] == [(email, "password", 0)]
        assert listed[0]["disabled_at"] is not None
        assert "argon2" not in json.dumps(listed)

        samspil_user(running_stack, "enable", provider_id, email)
        assert (await portal.log_in(email, password)).status_code == 303
        (again,) = [
            json.loads(line) for line in samspil_user(running_stack, "list", provider_id).splitlines()
        ]
        assert again["disabled_at"] is None and again["sessions"] == 1
    with pytest.raises(subprocess.CalledProcessError):  # another provider's person is not found
        samspil_user(running_stack, "disable", "another-provider", email)


async def test_the_portal_speaks_danish_and_english_on_request(running_stack: RunningStack) -> None:
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        danish = await portal.get("/portal/login")
        assert '<html lang="da">' in danish.text and "Adgangskode" in danish.text
        assert (await portal.get("/portal/login?lang=en")).text.count("Password") >= 1
        english = await portal.get("/portal/login")  # the choice is kept
        assert '<html lang="en">' in english.text and "Adgangskode" not in english.text


async def test_an_htmx_request_without_a_session_sends_the_whole_page_to_log_in(
    running_stack: RunningStack,
) -> None:
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        answer = await portal.get("/portal/", headers={"HX-Request": "true"})
        assert answer.status_code == 401
        assert answer.headers["HX-Redirect"] == "/portal/login?next=/portal/"


async def test_a_password_may_hold_ten_digits_that_read_as_a_cpr_number(running_stack: RunningStack) -> None:
    provider_id = f"portal-{uuid.uuid4().hex[:8]}"
    email = f"gry-{uuid.uuid4().hex[:6]}@example.org"
    password = f"kode-{random_cpr()}"
    conn = await asyncpg.connect(gateway_db(running_stack))
    try:
        await people.add_person(conn, provider_id, email, "Gry", password)
    finally:
        await conn.close()
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        assert (await portal.log_in(email, password)).status_code == 303
        # Anywhere else, a CPR number is still refused before any route sees it.
        refused = await portal.post("/portal/logout", {"note": random_cpr()})
        assert refused.status_code == 422
