"""Logging in to the provider portal through OpenID Connect (authorization code with PKCE)
against a real identity provider the test runs: the person and their provider come from the
ID token, and a token the issuer did not sign, a login without a provider, or a callback that
did not start here logs nobody in."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from provider_gateway import admin
from tests.e2e.conftest import RunningStack
from tests.oidc_provider import OidcProvider
from tests.portal_support import PortalClient

pytestmark = pytest.mark.e2e


async def through_identity_provider(portal: PortalClient, next_path: str = "/portal/") -> httpx.Response:
    """The browser's round trip: the portal, the identity provider, the portal's callback."""
    started = await portal.get(f"/portal/oidc/start?next={next_path}")
    assert started.status_code == 303, started.text
    async with httpx.AsyncClient(timeout=30) as browser_at_idp:
        authorized = await browser_at_idp.get(started.headers["location"])
    assert authorized.status_code == 302, authorized.text
    return await portal.get(authorized.headers["location"])


@pytest.fixture
async def person(running_stack: RunningStack, oidc_provider: OidcProvider) -> dict[str, Any]:
    """A person of a provider the gateway knows (it has an API client)."""
    suffix = uuid.uuid4().hex[:8]
    claims: dict[str, Any] = {
        "sub": f"subject-{suffix}",
        "provider_id": f"oidc-provider-{suffix}",
        "email": f"mette-{suffix}@example.org",
        "email_verified": True,
        "name": "Mette Mikkelsen",
    }
    conn = await asyncpg.connect(running_stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        await admin.add_provider(conn, claims["provider_id"])
    finally:
        await conn.close()
    oidc_provider.login_as = claims
    oidc_provider.rogue_key = False
    return claims


async def test_a_person_logs_in_through_the_identity_provider(
    running_stack: RunningStack, oidc_provider: OidcProvider, person: dict[str, Any]
) -> None:
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        login_page = await portal.get("/portal/login")
        assert "/portal/oidc/start" in login_page.text

        back = await through_identity_provider(portal, "/portal/")
        assert back.status_code == 303 and back.headers["location"] == "/portal/"
        start = await portal.get("/portal/")
        assert start.status_code == 200
        assert "Mette Mikkelsen" in start.text and person["provider_id"] in start.text
    redeemed = oidc_provider.token_requests[-1]
    assert redeemed["grant_type"] == "authorization_code" and len(redeemed["code_verifier"]) >= 43


async def test_an_id_token_the_issuer_did_not_sign_logs_nobody_in(
    running_stack: RunningStack, oidc_provider: OidcProvider, person: dict[str, Any]
) -> None:
    oidc_provider.rogue_key = True
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        refused = await through_identity_provider(portal)
        assert refused.status_code == 401
        assert (await portal.get("/portal/")).status_code == 303


async def test_a_login_that_names_no_provider_is_refused(
    running_stack: RunningStack, oidc_provider: OidcProvider, person: dict[str, Any]
) -> None:
    del oidc_provider.login_as["provider_id"]
    async with PortalClient(running_stack.url("provider-gateway")) as portal:
        refused = await through_identity_provider(portal)
        assert refused.status_code == 403
        assert (await portal.get("/portal/")).status_code == 303


async def test_a_callback_that_did_not_start_here_is_refused(
    running_stack: RunningStack, oidc_provider: OidcProvider, person: dict[str, Any]
) -> None:
    async with PortalClient(running_stack.url("provider-gateway")) as victim:
        started = await victim.get("/portal/oidc/start")
        async with httpx.AsyncClient(timeout=30) as browser_at_idp:
            authorized = await browser_at_idp.get(started.headers["location"])
    # Another browser (an attacker's victim, without the flow's cookie) is sent the callback.
    async with PortalClient(running_stack.url("provider-gateway")) as other:
        refused = await other.get(authorized.headers["location"])
        assert refused.status_code == 400
        assert (await other.get("/portal/")).status_code == 303
