"""Who is calling the provider API, in an order that keeps the database out of reach of floods:

1. the bearer token's signature and claims, checked without the database;
2. the rate limit: per provider for a token that verifies (also one revoked since: that is only
   known in step 3), per address for a missing or invalid token;
3. the database: the client is still active and the token of its current generation (neither
   the secret rotated nor the client disabled since it was issued). Asked on every request, so
   a disabled client loses access at once on every replica: by its own query (`check_client`),
   or, for a report, as part of the one statement that records it.

A refused caller is told what to do (get a new token); the log says why, never with the token.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials
from fastapi.openapi.models import OAuthFlows as OAuthFlowsModel
from fastapi.responses import Response
from fastapi.security import OAuth2

from provider_gateway.adapters import repository
from provider_gateway.domain.credentials import InvalidToken, TokenClaims, read_token
from provider_gateway.entrypoints.limits import client_address
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import Problem, problem_handler, unauthorized, validation_problem

log = structlog.get_logger("provider_gateway.auth")

TOKEN_URL = "/oauth/token"  # noqa: S105 - a path, not a secret
WHAT_TO_DO = (
    f"Get a new token from POST {TOKEN_URL} (OAuth2 client credentials) and send it as "
    "'Authorization: Bearer <token>'."
)
# Where TokenIdentity leaves the verified claims in the request's scope, so they are read once.
TOKEN_CLAIMS = "provider_gateway.token_claims"  # noqa: S105 - a scope key, not a secret

oauth2 = OAuth2(
    flows=OAuthFlowsModel(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={})),
    scheme_name="oauth2",
    description="OAuth2 client credentials: trade your client id and secret at the token URL "
    "(HTTP Basic or form fields) for a bearer token that lives at most 15 minutes.",
    auto_error=False,
)


class NoToken(Exception):
    """No bearer token was sent."""


class VerifiedTokens:
    """Bearer tokens whose signature and claims have verified, by their SHA-256, with their
    claims (per process, at most ``capacity``, the oldest forgotten first): verifying an HS256
    JWT was an eighth of the gateway's CPU per report, and a provider sends one token for up
    to 15 minutes of requests.

    Safe to keep: what verification found never changes for a token (its signature, issuer,
    audience, lifetime, against the settings read at start-up); its expiry is checked again at
    every use; and whether its client may still use it (not disabled, the token of its current
    generation) is not kept at all: the database is asked on every request, as before, so a
    disabled client or a rotated secret loses access at once. A token that fails is not kept."""

    def __init__(self, settings: GatewaySettings, capacity: int = 10_000) -> None:
        self._settings = settings
        self._capacity = capacity
        self._known: dict[bytes, TokenClaims] = {}

    def claims(self, token: str, now: float | None = None) -> TokenClaims:
        """The token's claims as `read_token` gives them; raises `InvalidToken` as it does."""
        moment = time.time() if now is None else now
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._known.get(digest)
        if claims is not None:
            if claims.expires_at <= moment:
                del self._known[digest]
                raise InvalidToken("expired")
            return claims
        settings = self._settings
        claims = read_token(
            token,
            settings.token_secret,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            now=moment,
        )
        if len(self._known) >= self._capacity:
            del self._known[next(iter(self._known))]
        self._known[digest] = claims
        return claims

    def __len__(self) -> int:
        return len(self._known)


def bearer_claims(
    authorization: str | None, settings: GatewaySettings, verified: VerifiedTokens | None = None
) -> TokenClaims:
    """The verified claims of the bearer token in an Authorization header, without the
    database: whether the client may still use it is not known yet. Raises `NoToken` or
    `InvalidToken`. ``verified``: the app's tokens verified before, if it keeps them."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NoToken
    if verified is not None:
        return verified.claims(token.strip())
    return read_token(
        token.strip(), settings.token_secret, issuer=settings.token_issuer, audience=settings.token_audience
    )


def limit_anonymous(request: Request, bucket: str) -> None:
    """Callers not (yet) known by a valid token are limited by address, so nobody can flood the
    audit trail or the password hashing without credentials."""
    address = client_address(request.scope, request.app.state.settings.trusted_proxies)
    request.app.state.anonymous_limiter.check(f"{bucket}:{address}")


def _refused(challenge: str = 'Bearer error="invalid_token"') -> Problem:
    return unauthorized(WHAT_TO_DO, challenge)


async def token_claims(
    request: Request, authorization: Annotated[str | None, Depends(oauth2)]
) -> TokenClaims:
    """Steps 1 and 2: the token's verified claims, rate limited per provider. Whether the client
    may still use the token is for the caller to check (`check_client`, or in the statement of
    the request's work, as a report does)."""
    claims: TokenClaims | None = request.scope.get(TOKEN_CLAIMS)  # from TokenIdentity
    if claims is None:
        try:
            state = request.app.state
            claims = bearer_claims(authorization, state.settings, getattr(state, "verified_tokens", None))
        except NoToken:
            limit_anonymous(request, "no-token")
            raise _refused("Bearer") from None  # RFC 6750 3.1: no error code when none was sent
        except InvalidToken as invalid:
            limit_anonymous(request, "bad-token")
            log.info("bearer token refused", reason=invalid.reason)
            raise _refused() from None
    request.state.client_id, request.state.provider_id = claims.client_id, claims.provider_id
    request.app.state.rate_limiter.check(claims.provider_id)
    return claims


async def check_client(pool: asyncpg.Pool, claims: TokenClaims) -> None:
    """Step 3: 401 unless the client is active and the token of its current generation."""
    client = await repository.active_client(pool, claims.client_id)
    reason = (
        "client disabled or unknown"
        if client is None
        else "client belongs to another provider"
        if client["provider_id"] != claims.provider_id
        else "token revoked: secret rotated since it was issued"
        if client["token_generation"] != claims.generation
        else None
    )
    if reason is not None:
        log.info(
            "bearer token refused",
            reason=reason,
            client_id=claims.client_id,
            provider_id=claims.provider_id,
            token_id=claims.token_id,
        )
        raise _refused()


async def client_before_refusal(request: Request, error: Exception) -> Response:
    """A request refused for its body or headers (422) from a client that may no longer call is
    answered 401, as when its token was checked before the body (the report routes check the
    client in their statement, after validation): nothing about the body goes to a client
    that lost its access, and the audit row says denied. One query, on refusals only."""
    claims: TokenClaims | None = request.scope.get(TOKEN_CLAIMS)
    refusal = error if isinstance(error, Problem) else None
    if claims is not None and (refusal is None or refusal.status == 422):
        try:
            await check_client(request.app.state.runtime.pool, claims)
        except Problem as refused:
            return problem_handler(request, refused)
    if refusal is not None:
        return problem_handler(request, refusal)
    return validation_problem(request, error)


async def current_provider(
    request: Request, authorization: Annotated[str | None, Depends(oauth2)]
) -> TokenClaims:
    """All three steps."""
    claims = await token_claims(request, authorization)
    await check_client(request.app.state.runtime.pool, claims)
    return claims


Provider = Annotated[TokenClaims, Depends(current_provider)]
# For a route whose own statement checks the client, as `check_client` would: the token and the
# rate limit only, no round trip of its own.
ProviderToken = Annotated[TokenClaims, Depends(token_claims)]


class TokenIdentity:
    """Names the caller in the request state (``client_id``, ``provider_id``) as soon as its
    bearer token verifies, before any other rule may refuse the request, so the audit trail
    knows who sent a body too large or of the wrong type, or too many requests. The
    database check comes later, in `current_provider` (ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            authorization = next(
                (value.decode("latin-1") for name, value in scope["headers"] if name == b"authorization"),
                None,
            )
            app_state = scope["app"].state
            try:
                claims = bearer_claims(
                    authorization, app_state.settings, getattr(app_state, "verified_tokens", None)
                )
            except (NoToken, InvalidToken):
                pass
            else:
                state = scope.setdefault("state", {})
                state["client_id"], state["provider_id"] = claims.client_id, claims.provider_id
                scope[TOKEN_CLAIMS] = claims  # verified once a request
        await self.app(scope, receive, send)
