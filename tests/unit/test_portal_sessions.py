"""The portal's cookies, CSRF tokens and redirects, without a server: cookies are Secure,
HttpOnly and SameSite=Lax (``__Host-`` in production; not Secure only in local mode over plain
http), a CSRF token belongs to its session, a POST naming another origin is refused, and login
only ever leads back into the portal; HSTS outside local mode, and the OIDC steps are rate
limited per address. Settings that cannot work are refused at start-up."""

from __future__ import annotations

from http.cookies import SimpleCookie
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.requests import Request

from provider_gateway.entrypoints.limits import RateLimiter
from provider_gateway.portal import PortalHeaders, oidc, sessions
from provider_gateway.portal.auth import safe_next
from provider_gateway.portal.web import Refused
from provider_gateway.settings import GatewaySettings


def settings(**changes: Any) -> GatewaySettings:
    return GatewaySettings(
        database_url="postgresql://unused/unused", token_secret="t" * 48, dead_letter_key="d" * 32, **changes
    )


def request(
    scheme: str = "https", local_mode: bool = False, headers: dict[str, str] | None = None, **changes: Any
) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(settings=settings(local_mode=local_mode, **changes)))
    raw = [(b"host", b"gateway.example")] + [
        (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()
    ]
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "server": ("gateway.example", 443),
            "path": "/portal/logout",
            "query_string": b"",
            "headers": raw,
            "app": app,
        }
    )


def cookie_set(req: Request, name: str = sessions.SESSION_COOKIE) -> SimpleCookie:
    response = Response()
    sessions.set_cookie(req, response, name, "value", max_age=60)
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


@pytest.mark.parametrize(
    ("scheme", "local_mode", "name", "secure"),
    [
        ("http", False, "__Host-samspil_portal", True),  # TLS ends at the proxy in front
        ("https", False, "__Host-samspil_portal", True),
        ("https", True, "__Host-samspil_portal", True),
        ("http", True, "samspil_portal", False),  # make up on http://127.0.0.1
    ],
)
def test_the_session_cookie_is_secure_except_in_local_mode_over_http(
    scheme: str, local_mode: bool, name: str, secure: bool
) -> None:
    jar = cookie_set(request(scheme, local_mode))
    (morsel,) = jar.values()
    assert morsel.key == name
    assert bool(morsel["secure"]) is secure
    assert morsel["httponly"] and morsel["samesite"] == "lax" and morsel["path"] == "/"


@pytest.mark.parametrize("name", [sessions.LOGIN_COOKIE, sessions.LANG_COOKIE, oidc.FLOW_COOKIE])
def test_every_portal_cookie_is_host_only_outside_local_mode(name: str) -> None:
    (morsel,) = cookie_set(request("http", local_mode=False), name).values()
    assert morsel.key == f"__Host-{name}" and morsel["secure"]
    prefixed = request(headers={"cookie": f"{name}=planted; __Host-{name}=own"})
    assert sessions.cookie(prefixed, name) == "own"  # one a subdomain could plant is not read
    (local,) = cookie_set(request("http", local_mode=True), name).values()
    assert local.key == name


@pytest.mark.parametrize(("local_mode", "hsts"), [(False, True), (True, False)])
async def test_the_portal_asks_for_https_only_outside_local_mode(local_mode: bool, hsts: bool) -> None:
    app = FastAPI()
    app.add_middleware(PortalHeaders, hsts=not local_mode)

    @app.get("/portal/page")
    async def page() -> dict[str, str]:
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as http:
        answer = await http.get("/portal/page")
    assert ("strict-transport-security" in answer.headers) is hsts
    if hsts:
        assert answer.headers["strict-transport-security"] == "max-age=31536000"


async def test_the_oidc_callback_is_rate_limited_per_address() -> None:
    req = request(
        portal_oidc_issuer="https://login.example",
        portal_oidc_client_id="portal",
        portal_oidc_client_secret="s",
    )
    req.scope["client"] = ("198.51.100.7", 50000)
    req.app.state.anonymous_limiter = RateLimiter(rate=0.001, burst=1, max_buckets=10)
    with pytest.raises(Refused) as first:
        await oidc.callback(req, code="c", state="s")
    assert first.value.status_code == 400  # no flow cookie: counted, then refused for that
    with pytest.raises(Refused) as second:
        await oidc.callback(req, code="c", state="s")
    assert second.value.status_code == 429


def test_a_csrf_token_belongs_to_its_session() -> None:
    one = request(local_mode=True, scheme="http", headers={"cookie": "samspil_portal=session-one"})
    two = request(local_mode=True, scheme="http", headers={"cookie": "samspil_portal=session-two"})
    token = sessions.csrf_token(one)
    assert token is not None and token == sessions.csrf_token(one)
    assert sessions.token_matches(token, token)
    assert not sessions.token_matches(sessions.csrf_token(two), token)
    assert not sessions.token_matches(token, None) and not sessions.token_matches(None, "")
    assert sessions.csrf_token(request()) is None  # no session, no token
    assert sessions.login_token(one, "nonce") != token


@pytest.mark.parametrize(
    ("headers", "same"),
    [
        ({}, True),
        ({"origin": "https://gateway.example"}, True),
        ({"referer": "https://gateway.example/portal/"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({"referer": "https://evil.example/page"}, False),
    ],
)
def test_a_post_must_come_from_this_gateway_when_the_browser_says_where_from(
    headers: dict[str, str], same: bool
) -> None:
    assert sessions.same_origin(request(headers=headers)) is same


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/portal/referrals?status=new", "/portal/referrals?status=new"),
        (None, "/portal/"),
        ("https://evil.example/", "/portal/"),
        ("//evil.example/portal/", "/portal/"),
        ("/portal//evil.example", "/portal/"),
        ("/portal/\\evil", "/portal/"),
        ("/v1/referrals", "/portal/"),
    ],
)
def test_login_only_ever_leads_back_into_the_portal(asked: str | None, goes_to: str) -> None:
    assert safe_next(asked) == goes_to


def test_an_identity_provider_needs_a_client_and_https_outside_local_mode() -> None:
    with pytest.raises(ValidationError, match="CLIENT_ID"):
        settings(portal_oidc_issuer="https://login.example")
    with pytest.raises(ValidationError, match="https"):
        settings(
            portal_oidc_issuer="http://login.example",
            portal_oidc_client_id="portal",
            portal_oidc_client_secret="s",
        )
    configured = settings(
        portal_oidc_issuer="https://login.example",
        portal_oidc_client_id="portal",
        portal_oidc_client_secret="s",
    )
    assert configured.portal_idle_minutes == 30 and configured.portal_oidc_provider_claim == "provider_id"
