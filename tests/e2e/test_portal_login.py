"""Logging in to and out of the provider portal through the running gateway, with a person of
the built-in user store: the session names the person on every page and in the audit trail,
and ends at logout."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.e2e.conftest import RunningStack
from tests.portal_support import PortalClient, add_portal_person

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
            "SELECT method, path, status, provider_id FROM audit.audit_log"
            " WHERE client_id = $1 ORDER BY chain_seq",
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
