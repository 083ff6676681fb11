"""Helpers for tests of the provider portal: a person in the built-in user store, and an HTTP
client logged in through the login form as a browser would be."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from provider_gateway.portal import people

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


async def add_portal_person(
    gateway_database_url: str, provider_id: str, email: str, display_name: str = "Kontakt Person"
) -> str:
    """Add a person of ``provider_id`` who logs in as ``email`` (the code path of
    ``samspil provider user add``); their password."""
    conn = await asyncpg.connect(gateway_database_url)
    try:
        return await people.add_person(conn, provider_id, email, display_name)
    finally:
        await conn.close()


def csrf_token_in(page: str) -> str | None:
    found = _CSRF.search(page)
    return html.unescape(found.group(1)) if found else None


class PortalClient:
    """An httpx client of a running gateway's portal (``base_url``), logged in through the
    login form by `log_in`. `post` sends the CSRF token of the last page it got (as the page's
    form would), unless ``data`` brings its own. Redirects are not followed: a test sees them."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30, follow_redirects=False)
        self.last_page = ""

    async def __aenter__(self) -> PortalClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    @property
    def csrf_token(self) -> str | None:
        return csrf_token_in(self.last_page)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last_page = response.text
        return response

    async def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        form = dict(data or {})
        token = self.csrf_token
        if "csrf_token" not in form and token is not None:
            form["csrf_token"] = token
        response = await self.http.post(path, data=form, **kwargs)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last_page = response.text
        return response

    async def log_in(self, email: str, password: str) -> httpx.Response:
        """Log in through the form; the answer to the form (303 to the start page when it worked)."""
        await self.get("/portal/login")
        return await self.post("/portal/login", {"email": email, "password": password})

    async def log_out(self) -> httpx.Response:
        await self.get("/portal/")
        return await self.post("/portal/logout")

    async def aclose(self) -> None:
        await self.http.aclose()


def portal_request(pool: Any, attempts: int = 5) -> SimpleNamespace:
    """As much of a request as the portal's login code reads: the settings of its lockout and
    the gateway's pool."""
    settings = SimpleNamespace(portal_login_attempts=attempts, portal_lockout_minutes=15)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, runtime=SimpleNamespace(pool=pool)))
    return SimpleNamespace(app=app)
