"""Who is calling: bearer tokens for the caseworkers' case systems that call our internal APIs.

Two ways to trust a token, chosen by configuration alone:

- the built-in issuer (``SAMSPIL_AUTH_SECRET``): HS256 tokens signed with a shared secret, for
  local runs and tests (``samspil token`` prints one);
- the municipality's OpenID Connect provider (``SAMSPIL_AUTH_JWKS_URL``): RS256, ES256 or PS256
  tokens checked against the provider's published keys. HS* is then refused outright, so a
  token "signed" with the public key as an HMAC secret is never accepted.

Each department is its own audience (``samspil-employment``, ``samspil-social`` by default), so a
token meant for one is refused by the other. A token must say when it was issued (``iat``) and may
live at most ``SAMSPIL_AUTH_MAX_LIFETIME_SECONDS``.

A token is never logged, echoed or put in an error message. A refused caller is told what to do;
the precise reason goes to the log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Self

import jwt
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from samspil.runtime.http import Problem, problem_handler, unauthorized
from schemas.cpr import contains_cpr

log = structlog.get_logger("samspil.auth")

LOCAL_ALGORITHM = "HS256"
# Which token algorithms each kind of published key may verify. Symmetric keys ("oct") have no
# entry: a key set that offers one is never used to check a token.
_ALGORITHMS_BY_KEY_TYPE = {"RSA": ("RS256", "PS256"), "EC": ("ES256",)}
OIDC_ALGORITHMS = ("RS256", "ES256", "PS256")
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_REALM = 'Bearer realm="samspil"'
_MIN_SECRET_LENGTH = 32


class Role(StrEnum):
    EMPLOYMENT_CASEWORKER = "employment-caseworker"
    SOCIAL_CASEWORKER = "social-caseworker"
    SPECIALIST_UNIT = "specialist-unit"


# Each department's own token audience (its default; a service's <PREFIX>AUTH_AUDIENCE changes it).
EMPLOYMENT_AUDIENCE = "samspil-employment"
SOCIAL_AUDIENCE = "samspil-social"
DEPARTMENT_AUDIENCES = {"employment": EMPLOYMENT_AUDIENCE, "social": SOCIAL_AUDIENCE}
# Which department's API each role calls: the joint specialist unit rules in the social service.
DEPARTMENT_OF_ROLE = {
    Role.EMPLOYMENT_CASEWORKER: "employment",
    Role.SOCIAL_CASEWORKER: "social",
    Role.SPECIALIST_UNIT: "social",
}
DEFAULT_MAX_LIFETIME_SECONDS = 3600
_REFUSED = "The token was not accepted: get a new token from your identity provider."


def _auth_field(name: str, default: Any, description: str, **constraints: Any) -> Any:
    # One unprefixed variable serves every service, whatever its own env prefix.
    return Field(
        default=default,
        validation_alias=AliasChoices(f"SAMSPIL_AUTH_{name}"),
        description=description,
        **constraints,
    )


class StaffAuthSettings(BaseSettings):
    """How to check staff tokens. Mix into a service's settings next to ``RuntimeSettings``;
    set exactly one of ``SAMSPIL_AUTH_SECRET`` and ``SAMSPIL_AUTH_JWKS_URL``. The audience is the
    service's own (``<PREFIX>AUTH_AUDIENCE``): each department gives it a default."""

    # A refused configuration must not print the secret it was given.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    auth_issuer: str = _auth_field("ISSUER", "samspil-local", "The token's required `iss`.")
    auth_audience: str = Field(
        min_length=1, description="The token's required `aud`: this service's own audience."
    )
    auth_secret: str | None = _auth_field(
        "SECRET",
        None,
        "Shared secret of the built-in issuer (HS256), for local runs and tests.",
        min_length=_MIN_SECRET_LENGTH,
        repr=False,
    )
    auth_jwks_url: str | None = _auth_field(
        "JWKS_URL",
        None,
        "The OpenID Connect provider's JWKS URL; tokens must then be RS256, ES256 or PS256.",
    )
    auth_roles_claim: str = _auth_field(
        "ROLES_CLAIM", "roles", "Claim holding the roles: a list, or a space-separated string."
    )
    auth_team_claim: str = _auth_field("TEAM_CLAIM", "team", "Claim holding the caller's team.")
    auth_name_claim: str = _auth_field("NAME_CLAIM", "name", "Claim holding the caller's display name.")
    auth_leeway_seconds: int = _auth_field(
        "LEEWAY_SECONDS", 30, "Clock skew tolerated on exp, nbf and iat.", ge=0, le=300
    )
    auth_max_lifetime_seconds: int = _auth_field(
        "MAX_LIFETIME_SECONDS",
        DEFAULT_MAX_LIFETIME_SECONDS,
        "The longest a token may live (exp - iat); a longer-lived token is refused. Raise it if the "
        "identity provider issues longer tokens (Microsoft Entra ID: 60-90 minutes by default).",
        ge=60,
        le=86400,
    )
    # Read only to refuse it: one audience shared by both departments is what this replaced.
    shared_audience: str | None = _auth_field("AUDIENCE", None, "No longer read.", exclude=True)

    @model_validator(mode="after")
    def _no_shared_audience(self) -> Self:
        if self.shared_audience is not None:
            raise ValueError(
                "SAMSPIL_AUTH_AUDIENCE is no longer read: each department has its own audience, "
                "set EMPLOYMENT_AUTH_AUDIENCE and SOCIAL_AUTH_AUDIENCE instead"
            )
        return self

    @model_validator(mode="after")
    def _one_way_to_trust_tokens(self) -> Self:
        if (self.auth_secret is None) == (self.auth_jwks_url is None):
            raise ValueError(
                "set exactly one of SAMSPIL_AUTH_SECRET (built-in issuer, local runs and tests) "
                "and SAMSPIL_AUTH_JWKS_URL (the municipality's OpenID Connect provider)"
            )
        return self


@dataclass(frozen=True)
class Caller:
    """The person behind a request, as the token tells it."""

    subject: str
    roles: frozenset[str]
    team: str | None
    name: str | None

    def has_any(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class InvalidToken(Exception):
    """The token cannot be trusted; `reason` says why in a few words and never holds the token."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SigningKeysUnavailable(Exception):
    """The identity provider's keys could not be fetched: our problem, not the caller's."""


class TokenVerifier:
    """Checks a bearer token's signature, expiry, issuer, audience, not-before, issue time and
    lifetime, and reads the caller from it."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        secret: str | None = None,
        jwks: jwt.PyJWKClient | None = None,
        roles_claim: str = "roles",
        team_claim: str = "team",
        name_claim: str = "name",
        leeway_seconds: int = 30,
        max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME_SECONDS,
    ):
        if (secret is None) == (jwks is None):
            raise ValueError("a verifier needs exactly one of a secret and a JWKS client")
        self._issuer = issuer
        self._audience = audience
        self._secret = secret
        self._jwks = jwks
        self._algorithms = (LOCAL_ALGORITHM,) if jwks is None else OIDC_ALGORITHMS
        self._roles_claim = roles_claim
        self._team_claim = team_claim
        self._name_claim = name_claim
        self._leeway = leeway_seconds
        self._max_lifetime = max_lifetime_seconds

    @classmethod
    def from_settings(cls, settings: StaffAuthSettings) -> TokenVerifier:
        jwks = None
        if settings.auth_jwks_url is not None:
            # The key set is cached for five minutes; a token with an unknown key id refetches
            # at most every 30 s, so unknown ids cannot make us hammer the provider.
            jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_jwk_set=True, lifespan=300, timeout=5)
        return cls(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            secret=settings.auth_secret,
            jwks=jwks,
            roles_claim=settings.auth_roles_claim,
            team_claim=settings.auth_team_claim,
            name_claim=settings.auth_name_claim,
            leeway_seconds=settings.auth_leeway_seconds,
            max_lifetime_seconds=settings.auth_max_lifetime_seconds,
        )

    async def verify(self, token: str) -> Caller:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise InvalidToken("the token is malformed") from None
        # Refused before any key lookup: "none", HS* in OIDC mode, anything unexpected.
        if algorithm not in self._algorithms:
            raise InvalidToken("the token's signing algorithm is not accepted")
        key: Any = self._secret
        algorithms: Sequence[str] = self._algorithms
        if self._jwks is not None:
            key, algorithms = await self._published_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(_reason(error)) from None
        # PyJWT has checked that exp and iat are whole numbers and iat is not in the future.
        if int(claims["exp"]) - int(claims["iat"]) > self._max_lifetime:
            raise InvalidToken("the token lives longer than the maximum lifetime")
        return self._caller(claims)

    async def _published_key(self, token: str) -> tuple[Any, Sequence[str]]:
        assert self._jwks is not None
        try:
            # The fetch blocks (urllib); the cached key set is served without a request.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as error:
            raise SigningKeysUnavailable(type(error).__name__) from None
        except jwt.PyJWTError:
            raise InvalidToken("the token's signing key is unknown") from None
        algorithms = _ALGORITHMS_BY_KEY_TYPE.get(signing_key.key_type or "", ())
        if not algorithms:
            raise InvalidToken("the token's signing key is not an asymmetric key")
        return signing_key.key, algorithms

    def _caller(self, claims: dict[str, Any]) -> Caller:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token has no subject")
        caller = Caller(
            subject=subject,
            roles=_roles(_claim(claims, self._roles_claim)),
            team=_text(_claim(claims, self._team_claim), "team"),
            name=_text(_claim(claims, self._name_claim), "name"),
        )
        # Subject, team and name are stored as who did what: none may carry a CPR number, however
        # the identity provider's attributes are mapped.
        for what, value in (("subject", caller.subject), ("team", caller.team), ("name", caller.name)):
            if value is not None and contains_cpr(value):
                raise InvalidToken(f"the token's {what} claim holds a CPR number")
        return caller


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "the token is not valid yet (nbf or iat in the future)"
    if isinstance(error, jwt.InvalidIssuedAtError):
        return "the token's iat claim is not a number"
    if isinstance(error, jwt.InvalidIssuerError):
        return "the token is from another issuer"
    if isinstance(error, jwt.InvalidAudienceError):
        return "the token is for another audience"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the token has no {error.claim} claim"
    if isinstance(error, jwt.InvalidSignatureError):
        return "the token's signature does not match"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "the token's signing algorithm is not accepted"
    return "the token is malformed"


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by its name, or by a dotted path into nested claims (``realm_access.roles``)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _roles(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return frozenset(value)
    raise InvalidToken("the token's roles claim is neither a list of strings nor a string")


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidToken(f"the token's {what} claim is not a string")


def issue_local_token(
    secret: str,
    *,
    subject: str,
    roles: Sequence[str],
    team: str | None = None,
    name: str | None = None,
    audience: str,
    issuer: str = "samspil-local",
    ttl_seconds: int = 3600,
) -> str:
    """A token from the built-in issuer, for local runs and tests: for one department's
    `audience` (`EMPLOYMENT_AUDIENCE`, `SOCIAL_AUDIENCE`, or what its service is configured with)."""
    if len(secret) < _MIN_SECRET_LENGTH:
        raise ValueError(f"the secret must be at least {_MIN_SECRET_LENGTH} characters")
    if not subject:
        raise ValueError("a token needs a subject")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "roles": list(roles),
    }
    if team is not None:
        claims["team"] = team
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=LOCAL_ALGORITHM)


# --- FastAPI glue -----------------------------------------------------------------------------

_bearer = HTTPBearer(
    scheme_name="StaffBearer",
    bearerFormat="JWT",
    description="A token from the municipality's OpenID Connect provider; locally: `samspil token`.",
    auto_error=False,
)


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    """Make `caller_with` work on this app. Refusals answer as problem+json even on an app that
    was not made by `create_app`."""
    app.state.staff_token_verifier = verifier
    if Problem not in app.exception_handlers:
        app.add_exception_handler(Problem, problem_handler)


def caller_with(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the verified caller, who must hold at least one of `roles` (any
    authenticated caller when none is named): 401 without a valid token, 403 without the role."""
    needed = ", ".join(roles)

    async def verified_caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        verifier: TokenVerifier = request.app.state.staff_token_verifier
        if credentials is None:
            raise _token_problem(request)
        try:
            caller = await verifier.verify(credentials.credentials)
        except InvalidToken as refused:
            # The caller learns what to do; the precise reason is for the operator only.
            log.info("staff token refused", reason=refused.reason, path=request.url.path)
            raise unauthorized(_REFUSED, f'{_REALM}, error="invalid_token"') from None
        except SigningKeysUnavailable as unavailable:
            log.warning("identity provider keys unavailable", error=str(unavailable))
            raise Problem(
                503,
                "signing-keys-unavailable",
                "Tokens cannot be checked right now",
                detail="the identity provider's signing keys could not be fetched; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        if roles and not caller.has_any(*roles):
            log.info("staff caller lacks role", subject=caller.subject, needed=needed, path=request.url.path)
            raise Problem(403, "forbidden", "Forbidden", detail=f"This needs one of the roles: {needed}.")
        request.state.caller = caller
        return caller

    return verified_caller


def _token_problem(request: Request) -> Problem:
    # No credentials at all: a bare challenge (RFC 6750 §3.1). A bearer header FastAPI could not
    # read (e.g. "Bearer" with nothing after it) is a malformed token.
    scheme = request.headers.get("Authorization", "").strip().partition(" ")[0]
    if scheme.lower() == "bearer":
        log.info("staff token refused", reason="the token is malformed", path=request.url.path)
        return unauthorized(_REFUSED, f'{_REALM}, error="invalid_token"')
    return unauthorized("Send a token from your identity provider as Authorization: Bearer.", _REALM)
