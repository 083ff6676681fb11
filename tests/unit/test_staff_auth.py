"""Staff bearer tokens: the built-in issuer for local runs and tests, the municipality's OpenID
Connect provider by configuration, and the 401/403 answers of the FastAPI dependency."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from pydantic import ValidationError
from structlog.testing import capture_logs

from employment.settings import EmploymentSettings
from samspil.runtime.auth import (
    EMPLOYMENT_AUDIENCE,
    SOCIAL_AUDIENCE,
    Caller,
    InvalidToken,
    Role,
    StaffAuthSettings,
    TokenVerifier,
    caller_with,
    install_auth,
    issue_local_token,
)
from social.settings import SocialSettings

SECRET = "a-local-secret-long-enough-for-hs256!"
WHAT_TO_DO = "The token was not accepted: get a new token from your identity provider."
KID = "municipality-key-1"
ISSUER = "https://login.municipality.example/realms/staff"


@pytest.fixture(autouse=True)
def no_auth_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SECRET",
        "JWKS_URL",
        "ISSUER",
        "ROLES_CLAIM",
        "TEAM_CLAIM",
        "NAME_CLAIM",
        "LEEWAY_SECONDS",
        "MAX_LIFETIME_SECONDS",
        "AUDIENCE",
    ):
        monkeypatch.delenv(f"SAMSPIL_AUTH_{name}", raising=False)
    for prefix in ("EMPLOYMENT_", "SOCIAL_", ""):
        monkeypatch.delenv(f"{prefix}AUTH_AUDIENCE", raising=False)


def auth_settings() -> StaffAuthSettings:
    return StaffAuthSettings(auth_audience=EMPLOYMENT_AUDIENCE)


def local_verifier(monkeypatch: pytest.MonkeyPatch) -> TokenVerifier:
    monkeypatch.setenv("SAMSPIL_AUTH_SECRET", SECRET)
    return TokenVerifier.from_settings(auth_settings())


def local_token(**options: Any) -> str:
    """A built-in issuer's token for the employment service."""
    return issue_local_token(SECRET, audience=EMPLOYMENT_AUDIENCE, **options)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "samspil-local",
        "aud": EMPLOYMENT_AUDIENCE,
        "sub": "caseworker-7",
        "iat": now,
        "exp": now + 600,
        "roles": ["employment-caseworker"],
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token built by hand, as an attacker would: PyJWT refuses to make these."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = (
        b"" if hmac_key is None else hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


# --- the built-in issuer ------------------------------------------------------------------------


async def test_built_in_token_is_accepted_with_roles_team_and_name(monkeypatch: pytest.MonkeyPatch) -> None:
    token = local_token(
        subject="caseworker-7",
        roles=[Role.EMPLOYMENT_CASEWORKER, Role.SPECIALIST_UNIT],
        team="jobcenter-nord",
        name="Anna Holm",
    )
    caller = await local_verifier(monkeypatch).verify(token)
    assert caller == Caller(
        subject="caseworker-7",
        roles=frozenset({"employment-caseworker", "specialist-unit"}),
        team="jobcenter-nord",
        name="Anna Holm",
    )
    assert caller.has_any(Role.SOCIAL_CASEWORKER, Role.SPECIALIST_UNIT)
    assert not caller.has_any(Role.SOCIAL_CASEWORKER)


@pytest.mark.parametrize(
    "changes", [{"sub": "0102031234"}, {"name": "Kim 010203 - 1234"}, {"team": "team \uff10102031234"}]
)
async def test_a_token_whose_identity_claims_hold_a_cpr_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    token = jwt.encode(claims(**changes), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="CPR number"):
        await local_verifier(monkeypatch).verify(token)


async def test_roles_may_be_one_space_separated_string(monkeypatch: pytest.MonkeyPatch) -> None:
    token = jwt.encode(claims(roles="social-caseworker specialist-unit"), SECRET, algorithm="HS256")
    caller = await local_verifier(monkeypatch).verify(token)
    assert caller.roles == {"social-caseworker", "specialist-unit"}
    assert caller.team is None and caller.name is None


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: local_token(subject="c", roles=[], ttl_seconds=-120), "expired"),
        (lambda: jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"), "another issuer"),
        (lambda: jwt.encode(claims(aud="another-system"), SECRET, algorithm="HS256"), "another audience"),
        (
            lambda: jwt.encode(claims(), "another-secret-that-is-long-enough!!", algorithm="HS256"),
            "signature",
        ),
        (lambda: forged({"alg": "none", "typ": "JWT"}, claims(), None), "algorithm"),
        (lambda: jwt.encode(claims(exp=None), SECRET, algorithm="HS256"), "no exp claim"),
        (lambda: jwt.encode(claims(sub=None), SECRET, algorithm="HS256"), "no sub claim"),
        (lambda: jwt.encode(claims(iat=None), SECRET, algorithm="HS256"), "no iat claim"),
        (lambda: jwt.encode(claims(nbf=int(time.time()) + 600), SECRET, algorithm="HS256"), "not valid yet"),
        (lambda: jwt.encode(claims(iat=int(time.time()) + 120), SECRET, algorithm="HS256"), "not valid yet"),
        (lambda: jwt.encode(claims(exp=int(time.time()) + 3700), SECRET, algorithm="HS256"), "lifetime"),
        (lambda: local_token(subject="c", roles=[], ttl_seconds=7200), "lifetime"),
        (lambda: "not-a-token", "malformed"),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "bad-signature",
        "alg-none",
        "missing-exp",
        "missing-sub",
        "missing-iat",
        "not-yet-valid",
        "issued-in-the-future",
        "lives-too-long",
        "built-in-issuer-token-lives-too-long",
        "garbage",
    ],
)
async def test_untrustworthy_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, token: Any, reason: str
) -> None:
    with pytest.raises(InvalidToken) as refused:
        await local_verifier(monkeypatch).verify(token())
    assert reason in refused.value.reason


async def test_token_issued_within_the_leeway_ahead_of_our_clock_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = jwt.encode(claims(iat=int(time.time()) + 10), SECRET, algorithm="HS256")
    assert (await local_verifier(monkeypatch).verify(token)).subject == "caseworker-7"


async def test_maximum_lifetime_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    two_hours = local_token(subject="c", roles=[], ttl_seconds=7200)
    monkeypatch.setenv("SAMSPIL_AUTH_MAX_LIFETIME_SECONDS", "7200")
    assert (await local_verifier(monkeypatch).verify(two_hours)).subject == "c"
    monkeypatch.setenv("SAMSPIL_AUTH_MAX_LIFETIME_SECONDS", "7199")
    with pytest.raises(InvalidToken, match="lifetime"):
        await local_verifier(monkeypatch).verify(two_hours)


async def test_refusal_reason_never_holds_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    token = jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken) as refused:
        await local_verifier(monkeypatch).verify(token)
    assert token not in str(refused.value) and token.split(".")[1] not in str(refused.value)


# --- settings -----------------------------------------------------------------------------------


def test_settings_refuse_both_a_secret_and_a_jwks_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSPIL_AUTH_SECRET", SECRET)
    monkeypatch.setenv("SAMSPIL_AUTH_JWKS_URL", "https://login.municipality.example/jwks")
    with pytest.raises(ValidationError, match="exactly one of SAMSPIL_AUTH_SECRET") as refused:
        auth_settings()
    assert SECRET not in str(refused.value)


def test_settings_refuse_neither_a_secret_nor_a_jwks_url() -> None:
    with pytest.raises(ValidationError, match="exactly one of SAMSPIL_AUTH_SECRET"):
        auth_settings()


def test_settings_refuse_a_short_secret_without_printing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSPIL_AUTH_SECRET", "too-short-secret")
    with pytest.raises(ValidationError) as refused:
        auth_settings()
    assert "too-short-secret" not in str(refused.value)


def test_settings_are_read_from_unprefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSPIL_AUTH_JWKS_URL", "https://login.municipality.example/jwks")
    monkeypatch.setenv("SAMSPIL_AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("SAMSPIL_AUTH_ROLES_CLAIM", "realm_access.roles")
    settings = auth_settings()
    assert settings.auth_jwks_url == "https://login.municipality.example/jwks"
    assert (settings.auth_issuer, settings.auth_roles_claim) == (ISSUER, "realm_access.roles")
    assert settings.auth_secret is None


def department_settings(monkeypatch: pytest.MonkeyPatch) -> tuple[EmploymentSettings, SocialSettings]:
    monkeypatch.setenv("SAMSPIL_AUTH_SECRET", SECRET)
    monkeypatch.setenv("SAMSPIL_CITIZEN_REF_KEY", "a-citizen-reference-key-long-enough!")
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", "postgresql://employment@localhost/employment")
    monkeypatch.setenv("SOCIAL_DATABASE_URL", "postgresql://social@localhost/social")
    monkeypatch.setenv("EMPLOYMENT_DEAD_LETTER_KEY", "an-employment-dead-letter-key-long-enough")
    monkeypatch.setenv("SOCIAL_DEAD_LETTER_KEY", "a-social-dead-letter-key-long-enough!!!!")
    return EmploymentSettings(), SocialSettings()


async def test_each_department_accepts_only_tokens_for_its_own_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    employment, social = (TokenVerifier.from_settings(s) for s in department_settings(monkeypatch))
    for_employment = issue_local_token(SECRET, subject="c", roles=[], audience=EMPLOYMENT_AUDIENCE)
    for_social = issue_local_token(SECRET, subject="c", roles=[], audience=SOCIAL_AUDIENCE)
    assert (await employment.verify(for_employment)).subject == "c"
    assert (await social.verify(for_social)).subject == "c"
    for verifier, token in ((social, for_employment), (employment, for_social)):
        with pytest.raises(InvalidToken, match="another audience"):
            await verifier.verify(token)


def test_each_department_reads_its_audience_from_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPLOYMENT_AUTH_AUDIENCE", "api://jobcenter")
    monkeypatch.setenv("SOCIAL_AUTH_AUDIENCE", "api://socialcenter")
    employment, social = department_settings(monkeypatch)
    assert (employment.auth_audience, social.auth_audience) == ("api://jobcenter", "api://socialcenter")


def test_the_former_shared_audience_variable_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSPIL_AUTH_AUDIENCE", "samspil-internal")
    with pytest.raises(ValidationError, match="EMPLOYMENT_AUTH_AUDIENCE and SOCIAL_AUTH_AUDIENCE"):
        department_settings(monkeypatch)


# --- the municipality's OpenID Connect provider ---------------------------------------------------


@dataclass
class IdentityProvider:
    private_key: rsa.RSAPrivateKey
    public_pem: bytes
    jwks_url: str
    fetches: list[str] = field(default_factory=list)

    def token(self, kid: str = KID, **changes: Any) -> str:
        return jwt.encode(
            claims(iss=ISSUER, **changes), self.private_key, algorithm="RS256", headers={"kid": kid}
        )


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[IdentityProvider]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    document = json.dumps({"keys": [{**public_jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()
    fetches: list[str] = []

    class JwksEndpoint(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), JwksEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        yield IdentityProvider(
            private_key, public_pem, f"http://127.0.0.1:{server.server_port}/jwks", fetches=fetches
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def oidc_verifier(monkeypatch: pytest.MonkeyPatch, provider: IdentityProvider) -> TokenVerifier:
    monkeypatch.setenv("SAMSPIL_AUTH_JWKS_URL", provider.jwks_url)
    monkeypatch.setenv("SAMSPIL_AUTH_ISSUER", ISSUER)
    return TokenVerifier.from_settings(auth_settings())


async def test_provider_token_signed_with_a_published_key_is_accepted(
    monkeypatch: pytest.MonkeyPatch, identity_provider: IdentityProvider
) -> None:
    verifier = oidc_verifier(monkeypatch, identity_provider)
    caller = await verifier.verify(identity_provider.token(roles=["social-caseworker"], team="social-vest"))
    assert (caller.subject, caller.roles, caller.team) == (
        "caseworker-7",
        frozenset({"social-caseworker"}),
        "social-vest",
    )


async def test_provider_keys_are_fetched_once_not_per_request(
    monkeypatch: pytest.MonkeyPatch, identity_provider: IdentityProvider
) -> None:
    verifier = oidc_verifier(monkeypatch, identity_provider)
    before = len(identity_provider.fetches)
    for _ in range(3):
        await verifier.verify(identity_provider.token())
    assert len(identity_provider.fetches) - before == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (lambda now: {"iat": None}, "no iat claim"),
        (lambda now: {"iat": now + 3600, "exp": now + 3900}, "not valid yet"),
        (lambda now: {"exp": now + 3700}, "lifetime"),
        (lambda now: {"aud": SOCIAL_AUDIENCE}, "another audience"),
    ],
    ids=["missing-iat", "issued-in-the-future", "lives-too-long", "for-the-other-department"],
)
async def test_provider_token_without_a_bounded_life_or_for_another_department_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    identity_provider: IdentityProvider,
    changes: Callable[[int], dict[str, Any]],
    reason: str,
) -> None:
    # Times from when the test runs, not from when pytest collected it.
    token = identity_provider.token(**changes(int(time.time())))
    with pytest.raises(InvalidToken, match=reason):
        await oidc_verifier(monkeypatch, identity_provider).verify(token)


async def test_hs256_token_signed_with_the_public_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, identity_provider: IdentityProvider
) -> None:
    # Algorithm confusion: the public key is public, so "HMAC with the public key" is a forgery.
    token = forged(
        {"alg": "HS256", "typ": "JWT", "kid": KID}, claims(iss=ISSUER), identity_provider.public_pem
    )
    with pytest.raises(InvalidToken, match="algorithm"):
        await oidc_verifier(monkeypatch, identity_provider).verify(token)


async def test_built_in_token_is_refused_when_the_provider_is_configured(
    monkeypatch: pytest.MonkeyPatch, identity_provider: IdentityProvider
) -> None:
    token = local_token(subject="caseworker-7", roles=["employment-caseworker"], issuer=ISSUER)
    with pytest.raises(InvalidToken, match="algorithm"):
        await oidc_verifier(monkeypatch, identity_provider).verify(token)


async def test_token_from_an_unknown_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, identity_provider: IdentityProvider
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(iss=ISSUER), other_key, algorithm="RS256", headers={"kid": "not-published"})
    with pytest.raises(InvalidToken, match="signing key is unknown"):
        await oidc_verifier(monkeypatch, identity_provider).verify(token)


async def test_token_signed_by_another_key_under_a_published_kid_is_refused(
    monkeypatch: pytest.MonkeyPatch, identity_provider: IdentityProvider
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(iss=ISSUER), other_key, algorithm="RS256", headers={"kid": KID})
    with pytest.raises(InvalidToken, match="signature"):
        await oidc_verifier(monkeypatch, identity_provider).verify(token)


# --- the FastAPI dependency -----------------------------------------------------------------------


def tiny_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_auth(app, verifier)

    @app.post("/case-notes")
    async def add_case_note(
        caller: Annotated[Caller, Depends(caller_with(Role.EMPLOYMENT_CASEWORKER, Role.SPECIALIST_UNIT))],
    ) -> dict[str, str | None]:
        return {"subject": caller.subject, "team": caller.team}

    return app


async def post_case_note(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.post("/case-notes", headers=headers)


async def test_request_without_token_gets_401_with_a_bearer_challenge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await post_case_note(tiny_app(local_verifier(monkeypatch)), {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="samspil"'
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://samspil.dk/problems/unauthorized"


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer ", "bearer x.y.z"])
async def test_request_with_a_bad_token_gets_401_invalid_token_and_the_token_is_not_logged(
    monkeypatch: pytest.MonkeyPatch, authorization: str
) -> None:
    with capture_logs() as logs:
        response = await post_case_note(
            tiny_app(local_verifier(monkeypatch)), {"Authorization": authorization}
        )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="samspil", error="invalid_token"'
    token = authorization.partition(" ")[2]
    if token.strip():
        assert token not in response.text and token not in json.dumps(logs, default=str)


async def test_expired_token_gets_401_saying_what_to_do_and_the_cause_goes_to_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = local_token(subject="c", roles=["employment-caseworker"], ttl_seconds=-120)
    with capture_logs() as logs:
        response = await post_case_note(
            tiny_app(local_verifier(monkeypatch)), {"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    assert response.json()["detail"] == WHAT_TO_DO
    assert "expired" not in response.text
    assert [entry["reason"] for entry in logs if entry["event"] == "staff token refused"] == [
        "the token has expired"
    ]
    assert token not in json.dumps(logs, default=str)


@pytest.mark.parametrize(
    "token",
    [
        lambda: jwt.encode(claims(aud=SOCIAL_AUDIENCE), SECRET, algorithm="HS256"),
        lambda: jwt.encode(claims(exp=int(time.time()) + 86400), SECRET, algorithm="HS256"),
        lambda: "not-a-token",
    ],
    ids=["another-audience", "too-long-lived", "garbage"],
)
async def test_every_refused_token_gets_the_same_401_body(
    monkeypatch: pytest.MonkeyPatch, token: Any
) -> None:
    response = await post_case_note(
        tiny_app(local_verifier(monkeypatch)), {"Authorization": f"Bearer {token()}"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "type": "https://samspil.dk/problems/unauthorized",
        "title": "Authentication required",
        "status": 401,
        "detail": WHAT_TO_DO,
    }


async def test_caller_without_any_listed_role_gets_403_naming_the_roles_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = local_token(subject="caseworker-9", roles=[Role.SOCIAL_CASEWORKER], team="social-vest")
    response = await post_case_note(
        tiny_app(local_verifier(monkeypatch)), {"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://samspil.dk/problems/forbidden"
    assert response.json()["detail"] == "This needs one of the roles: employment-caseworker, specialist-unit."


async def test_caller_with_a_listed_role_is_let_through(monkeypatch: pytest.MonkeyPatch) -> None:
    token = local_token(subject="caseworker-7", roles=[Role.EMPLOYMENT_CASEWORKER], team="jobcenter-nord")
    response = await post_case_note(
        tiny_app(local_verifier(monkeypatch)), {"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"subject": "caseworker-7", "team": "jobcenter-nord"}


def test_openapi_documents_bearer_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    document = tiny_app(local_verifier(monkeypatch)).openapi()
    assert document["components"]["securitySchemes"]["StaffBearer"]["scheme"] == "bearer"
    assert document["paths"]["/case-notes"]["post"]["security"] == [{"StaffBearer": []}]
