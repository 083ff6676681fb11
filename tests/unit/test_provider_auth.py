"""How the provider gateway reads a caller: the token request (RFC 6749) and the bearer token,
and that the rate limit answers before the database is asked."""

from __future__ import annotations

import base64
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from starlette.requests import Request

from provider_gateway.domain.credentials import InvalidToken, TokenClaims, issue_token
from provider_gateway.entrypoints.auth import (
    WHAT_TO_DO,
    NoToken,
    TokenIdentity,
    VerifiedTokens,
    bearer_claims,
    current_provider,
)
from provider_gateway.entrypoints.limits import RateLimiter
from provider_gateway.entrypoints.tokens import TokenRefused, TokenRequest, read_token_request
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import Problem

SETTINGS = GatewaySettings(
    database_url="postgresql://unused/unused", token_secret="t" * 48, dead_letter_key="d" * 32
)


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def test_client_credentials_are_read_from_http_basic_form_urlencoded() -> None:
    grant = read_token_request(b"grant_type=client_credentials", basic("p1-ab:c", "s/é+ 1"))
    assert grant == TokenRequest("client_credentials", "p1-ab:c", "s/é+ 1")


def test_client_credentials_are_read_from_the_form() -> None:
    grant = read_token_request(
        b"grant_type=client_credentials&client_id=p1&client_secret=s%2B1&x=ignored", None
    )
    assert grant == TokenRequest("client_credentials", "p1", "s+1")
    # A bearer token sent along is no client authentication, so it does not count as a second one.
    assert read_token_request(b"client_id=p1&client_secret=s", "Bearer abc") == TokenRequest(None, "p1", "s")
    # The same client id in the form as in Basic is tolerated (some libraries add it).
    assert read_token_request(b"client_id=p1", basic("p1", "s")) == TokenRequest(None, "p1", "s")


@pytest.mark.parametrize(
    ("body", "authorization", "error"),
    [
        (b"grant_type=client_credentials&client_secret=s", basic("p1", "s"), "invalid_request"),
        (b"grant_type=client_credentials&client_id=p2", basic("p1", "s"), "invalid_request"),
        (b"grant_type=client_credentials&client_secret=s", None, "invalid_request"),
        (b"grant_type=client_credentials&grant_type=client_credentials", None, "invalid_request"),
        (b"client_id=a&client_id=b&client_secret=s", None, "invalid_request"),
        (b"grant_type=client_credentials&client_id=%ff", None, "invalid_request"),
        (b"grant_type=client_credentials&client_id=a%00b&client_secret=x", None, "invalid_request"),
        (b"grant_type=client_credentials", "Basic !!!", "invalid_client"),
        (
            b"grant_type=client_credentials",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            "invalid_client",
        ),
    ],
)
def test_malformed_token_requests_get_the_rfc_6749_error(
    body: bytes, authorization: str | None, error: str
) -> None:
    with pytest.raises(TokenRefused) as refused:
        read_token_request(body, authorization)
    assert refused.value.error == error
    response = refused.value.response()
    assert response.status_code == (401 if error == "invalid_client" else 400)
    assert response.headers["cache-control"] == "no-store"
    if error == "invalid_client":
        assert response.headers["www-authenticate"].startswith('Basic realm="')


def token(claims: TokenClaims) -> str:
    return issue_token(claims, SETTINGS.token_secret)


def valid_claims(generation: int = 0) -> TokenClaims:
    return TokenClaims("p1-client", "p1", int(time.time()) + 600, generation)


def test_bearer_claims_read_a_verified_token_without_the_database() -> None:
    claims = bearer_claims(f"Bearer {token(valid_claims(4))}", SETTINGS)
    assert (claims.client_id, claims.provider_id, claims.generation) == ("p1-client", "p1", 4)
    assert bearer_claims(f"bearer {token(valid_claims())}", SETTINGS).client_id == "p1-client"
    for nothing in (None, "", "Bearer ", basic("p1", "s")):
        with pytest.raises(NoToken):
            bearer_claims(nothing, SETTINGS)
    with pytest.raises(InvalidToken):
        bearer_claims("Bearer not-a-token", SETTINGS)
    other = GatewaySettings(
        database_url="postgresql://u/u",
        token_secret="t" * 48,
        dead_letter_key="d" * 32,
        token_audience="other-api",
    )
    with pytest.raises(InvalidToken, match="audience"):
        bearer_claims(f"Bearer {token(valid_claims())}", other)


def test_a_verified_token_is_kept_until_it_expires_and_a_refused_one_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified = VerifiedTokens(SETTINGS, capacity=2)
    claims = valid_claims(3)
    kept = token(claims)
    assert bearer_claims(f"Bearer {kept}", SETTINGS, verified) == bearer_claims(f"Bearer {kept}", SETTINGS)
    with pytest.raises(InvalidToken):
        verified.claims("not-a-token")
    assert len(verified) == 1

    def must_not_verify(*_: Any, **__: Any) -> TokenClaims:
        raise AssertionError("a kept token was verified again")

    monkeypatch.setattr("provider_gateway.entrypoints.auth.read_token", must_not_verify)
    assert verified.claims(kept, now=claims.expires_at - 1).generation == 3
    with pytest.raises(InvalidToken, match="expired"):
        verified.claims(kept, now=claims.expires_at)
    assert len(verified) == 0  # forgotten: its next use is verified (and refused) again
    with pytest.raises(AssertionError, match="verified again"):
        verified.claims(kept, now=claims.expires_at - 1)


def test_verified_tokens_are_kept_per_app_and_bounded() -> None:
    verified = VerifiedTokens(SETTINGS, capacity=2)
    tokens = [token(TokenClaims(f"c{n}", "p1", int(time.time()) + 600)) for n in range(3)]
    for kept in tokens:
        verified.claims(kept)
    assert len(verified) == 2
    # Another app's settings verify for themselves: a token kept by one is not another's.
    other = VerifiedTokens(
        GatewaySettings(
            database_url="postgresql://u/u",
            token_secret="t" * 48,
            dead_letter_key="d" * 32,
            token_audience="other-api",
        )
    )
    with pytest.raises(InvalidToken, match="audience"):
        other.claims(tokens[-1])


class DatabaseMustNotBeAsked:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was asked ({name}) before the rate limit answered")


class DisabledClientDatabase:
    def __init__(self) -> None:
        self.asked = 0

    async def fetchrow(self, *_: Any) -> None:
        self.asked += 1
        return None  # no active client by that id: disabled


def request_to(pool: Any, limiter: RateLimiter, anonymous: RateLimiter) -> Request:
    state = SimpleNamespace(
        settings=SETTINGS,
        rate_limiter=limiter,
        anonymous_limiter=anonymous,
        runtime=SimpleNamespace(pool=pool),
    )
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/v1/referrals",
            "headers": [],
            "client": ("192.0.2.1", 1234),
            "app": SimpleNamespace(state=state),
        }
    )


async def test_a_revoked_or_disabled_clients_token_is_rate_limited_before_the_database_is_asked() -> None:
    limiter = RateLimiter(rate=0.001, burst=2)
    anonymous = RateLimiter(rate=0.001, burst=100)
    disabled = DisabledClientDatabase()
    for _ in range(2):  # the burst: each gets as far as the database, which refuses the client
        with pytest.raises(Problem) as refused:
            await current_provider(
                request_to(disabled, limiter, anonymous), f"Bearer {token(valid_claims())}"
            )
        assert refused.value.status == 401 and refused.value.detail == WHAT_TO_DO
    assert disabled.asked == 2
    with pytest.raises(Problem) as limited:
        await current_provider(
            request_to(DatabaseMustNotBeAsked(), limiter, anonymous), f"Bearer {token(valid_claims())}"
        )
    assert limited.value.status == 429


async def test_a_missing_or_invalid_token_is_limited_by_address_and_never_reaches_the_database() -> None:
    limiter = RateLimiter(rate=0.001, burst=100)
    anonymous = RateLimiter(rate=0.001, burst=1)
    statuses = []
    for authorization in (None, None, "Bearer forged", "Bearer forged"):
        with pytest.raises(Problem) as refused:
            await current_provider(request_to(DatabaseMustNotBeAsked(), limiter, anonymous), authorization)
        statuses.append(refused.value.status)
    assert statuses == [401, 429, 401, 429]
    assert len(limiter) == 0


async def test_the_caller_is_named_in_the_request_state_as_soon_as_its_token_verifies() -> None:
    seen: list[dict[str, Any]] = []

    async def downstream(scope: Any, _receive: Any, _send: Any) -> None:
        seen.append(dict(scope.get("state", {})))

    identity = TokenIdentity(downstream)
    app = SimpleNamespace(state=SimpleNamespace(settings=SETTINGS))
    for authorization in (f"Bearer {token(valid_claims())}", "Bearer forged", None):
        headers = [(b"authorization", authorization.encode())] if authorization else []
        scope = {"type": "http", "path": "/v1/referrals/x/absence-notices", "headers": headers, "app": app}
        await identity(scope, None, None)
    assert seen == [{"client_id": "p1-client", "provider_id": "p1"}, {}, {}]
