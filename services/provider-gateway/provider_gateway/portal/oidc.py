"""Logging in to the portal through OpenID Connect: the authorization-code flow with PKCE
against the identity provider PROVIDER_GATEWAY_PORTAL_OIDC_ISSUER names.

1. ``/portal/oidc/start`` reads the issuer's discovery document, makes a state, a nonce and a
   PKCE verifier, keeps them (with where to go after) in a short-lived cookie signed by the
   gateway, and sends the browser to the authorization endpoint.
2. ``/portal/oidc/callback`` checks the state against that cookie, trades the code (with the
   verifier, the client authenticating with its secret) for tokens at the token endpoint, and
   checks the ID token: signature against the issuer's JWKS, issuer, audience, expiry and the
   nonce. The person is the issuer's subject; the claim PROVIDER_GATEWAY_PORTAL_OIDC_PROVIDER_CLAIM
   names their provider, which must be one the gateway knows (an API client in use, or a
   referral); no such claim, no login. They are added at their first login, and their provider
   never changes after it (a login naming another is refused: an administrator disables the old
   person). Their name and e-mail address are kept as the identity provider says; the address
   only when the token says it is verified (``email_verified`` true, or "true" as some send it),
   else the subject stands in, and such an address is never a password login
   (`people.add_person`). A claim holding a CPR number logs nobody in and is neither stored nor
   shown. One disabled here stays out.

Both steps are limited per address like the login form (the gateway's anonymous rate limit).

Nothing of the flow is kept on the server between the two steps, so any replica can finish it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import jwt
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from provider_gateway.adapters import portal_people
from provider_gateway.entrypoints.auth import limit_anonymous
from provider_gateway.portal import sessions
from provider_gateway.portal.auth import safe_next, start_session
from provider_gateway.portal.web import N_, Person, Refused
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import Problem
from schemas.envelope import cpr_spans

log = structlog.get_logger("provider_gateway.portal.oidc")

router = APIRouter(prefix="/portal/oidc", include_in_schema=False)
FLOW_COOKIE = "samspil_portal_oidc"
FLOW_SECONDS = 600
ALGORITHMS = ["RS256", "ES256", "PS256"]
DISCOVERY_SECONDS = 3600
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class LoginFailed(Exception):
    """The identity provider's answer cannot log anyone in (the reason is logged, not shown)."""


@dataclass
class Discovery:
    """The issuer's endpoints, read once an hour at most (per process), and its keys."""

    fetched_at: float
    document: dict[str, Any]
    keys: jwt.PyJWKClient


@dataclass
class OidcClient:
    settings: GatewaySettings
    _discovery: Discovery | None = field(default=None)

    @property
    def issuer(self) -> str:
        assert self.settings.portal_oidc_issuer is not None
        return self.settings.portal_oidc_issuer

    async def discovery(self) -> Discovery:
        if self._discovery is None or time.monotonic() - self._discovery.fetched_at > DISCOVERY_SECONDS:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(url)
            if response.status_code != 200:
                raise LoginFailed(f"discovery document answered {response.status_code}")
            document = response.json()
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise LoginFailed("discovery document names another issuer")
            missing = [name for name in ENDPOINTS if not isinstance(document.get(name), str)]
            if missing:
                raise LoginFailed(f"discovery document names no {', '.join(missing)}")
            keys = jwt.PyJWKClient(document["jwks_uri"], cache_jwk_set=True, lifespan=300, timeout=10)
            self._discovery = Discovery(time.monotonic(), document, keys)
        return self._discovery

    async def redeem(self, code: str, verifier: str, redirect_uri: str) -> str:
        """The ID token the code buys at the token endpoint."""
        discovery = await self.discovery()
        secret = self.settings.portal_oidc_client_secret
        assert self.settings.portal_oidc_client_id is not None and secret is not None
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                discovery.document["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                },
                auth=(self.settings.portal_oidc_client_id, secret.get_secret_value()),
                headers={"accept": "application/json"},
            )
        if response.status_code != 200:
            raise LoginFailed(f"token endpoint answered {response.status_code}")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("token endpoint gave no ID token")
        return id_token

    async def claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature (by one of the issuer's published keys),
        issuer, audience, times and nonce check out."""
        discovery = await self.discovery()
        try:
            key = await asyncio.to_thread(discovery.keys.get_signing_key_from_jwt, id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.settings.portal_oidc_client_id,
                issuer=self.issuer,
                leeway=30,
                options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
            )
        except jwt.PyJWTError as error:
            raise LoginFailed(f"ID token refused: {type(error).__name__}") from None
        if not hmac.compare_digest(str(claims["nonce"]), nonce):
            raise LoginFailed("ID token refused: another nonce")
        return claims


def client(request: Request) -> OidcClient:
    settings: GatewaySettings = request.app.state.settings
    if settings.portal_oidc_issuer is None:
        raise Refused(404, N_("Logging in through an identity provider is not set up here."))
    found: OidcClient | None = getattr(request.app.state, "portal_oidc", None)
    if found is None:
        found = request.app.state.portal_oidc = OidcClient(settings)
    return found


def redirect_uri(request: Request) -> str:
    settings: GatewaySettings = request.app.state.settings
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + "/portal/oidc/callback"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _seal(request: Request, flow: dict[str, Any]) -> str:
    body = _b64(json.dumps(flow).encode())
    return f"{body}.{sessions.mac(request.app.state.settings, 'oidc', body)}"


def _unseal(request: Request, value: str | None) -> dict[str, Any] | None:
    body, _, mac = (value or "").partition(".")
    if not body or not sessions.token_matches(sessions.mac(request.app.state.settings, "oidc", body), mac):
        return None
    flow: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return flow if flow.get("until", 0) > time.time() else None


def _limited(request: Request) -> None:
    try:
        limit_anonymous(request, "portal-oidc")
    except Problem:
        raise Refused(429, N_("Too many attempts. Wait a moment and try again.")) from None


@router.get("/start")
async def start(request: Request, next: str | None = None) -> Response:
    oidc = client(request)
    _limited(request)
    try:
        discovery = await oidc.discovery()
    except (LoginFailed, httpx.HTTPError, ValueError, KeyError) as error:
        log.warning(
            "identity provider unreachable",
            error=str(error) if isinstance(error, LoginFailed) else type(error).__name__,
        )
        raise Refused(503, N_("The identity provider cannot be reached. Try again later.")) from None
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": oidc.settings.portal_oidc_client_id,
            "redirect_uri": redirect_uri(request),
            "scope": oidc.settings.portal_oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    endpoint = discovery.document["authorization_endpoint"]
    response = RedirectResponse(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", status_code=303)
    flow = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(next),
        "until": time.time() + FLOW_SECONDS,
    }
    sessions.set_cookie(request, response, FLOW_COOKIE, _seal(request, flow), max_age=FLOW_SECONDS)
    return response


@router.get("/callback")
async def callback(
    request: Request, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    oidc = client(request)
    _limited(request)
    flow = _unseal(request, sessions.cookie(request, FLOW_COOKIE))
    if flow is None or state is None or not sessions.token_matches(flow["state"], state):
        log.info("portal login refused", reason="OIDC callback without a matching state")
        raise Refused(400, N_("The login took too long or did not start here. Log in again."))
    if error is not None or code is None:
        log.info("portal login refused", reason="identity provider answered an error", error=error)
        raise Refused(401, N_("The identity provider did not log you in."))
    try:
        id_token = await oidc.redeem(code, flow["verifier"], redirect_uri(request))
        claims = await oidc.claims(id_token, flow["nonce"])
    except (LoginFailed, httpx.HTTPError, ValueError) as failed:
        log.warning(
            "portal login refused",
            reason=str(failed) if isinstance(failed, LoginFailed) else type(failed).__name__,
        )
        raise Refused(401, N_("The identity provider did not log you in.")) from None
    person = await _person(request, oidc, claims)
    response = await start_session(request, person, flow["next"])
    sessions.delete_cookie(request, response, FLOW_COOKIE)
    return response


async def _person(request: Request, oidc: OidcClient, claims: dict[str, Any]) -> Person:
    shown = {name: claims.get(name) for name in ("sub", "name", "email")}
    if any(isinstance(value, str) and cpr_spans(value) for value in shown.values()):
        log.warning("portal login refused", reason="a claim holds a CPR number")  # no claim logged
        raise Refused(
            403, N_("Your login from the identity provider cannot be used here. Ask your administrator.")
        )
    subject = str(claims["sub"])
    provider_id = claims.get(oidc.settings.portal_oidc_provider_claim)
    if not isinstance(provider_id, str) or not provider_id.strip():
        log.info("portal login refused", reason="ID token names no provider", subject=subject)
        raise Refused(403, N_("Your login does not say which provider you work for. Ask your administrator."))
    provider_id = provider_id.strip()
    pool = request.app.state.runtime.pool
    if not await portal_people.provider_known(pool, provider_id):
        log.info("portal login refused", reason="ID token names an unknown provider", subject=subject)
        raise Refused(
            403, N_("Your login names a provider this portal does not know. Ask your administrator.")
        )
    # An address the identity provider has not verified could be anyone's: the subject stands in.
    email = (
        claims.get("email")
        if claims.get("email_verified") in (True, "true") and isinstance(claims.get("email"), str)
        else ""
    )
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    try:
        row = await portal_people.oidc_person(
            pool, oidc.issuer, subject, provider_id, email or subject, name or email or subject
        )
    except asyncpg.UniqueViolationError:
        log.info("portal login refused", reason="e-mail address taken by another person", subject=subject)
        raise Refused(
            409, N_("Another account uses your e-mail address here. Ask your administrator.")
        ) from None
    if row is None:
        reason = await portal_people.oidc_refusal(pool, oidc.issuer, subject)
        log.info("portal login refused", reason=f"person {reason}", subject=subject)
        if reason == "disabled":
            raise Refused(403, N_("Your access to the portal has been closed. Ask your administrator."))
        raise Refused(403, N_("Your login names another provider than before. Ask your administrator."))
    return Person(row["person_id"], row["provider_id"], row["email"], row["display_name"])
