"""The token endpoint: OAuth2 client-credentials grant (RFC 6749 section 4.4).

The client authenticates with HTTP Basic (section 2.3.1: id and secret form-urlencoded, joined by
a colon, base64) or with ``client_id`` and ``client_secret`` in the form, one way only. Errors
are answered as section 5.2 says (a JSON body with ``error`` and ``error_description``), not as
problem+json: OAuth client libraries read that shape. Rate limits and body rules answer as on
the rest of the API.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from provider_gateway.adapters import repository
from provider_gateway.domain.credentials import TokenClaims, hash_secret, issue_token, verify_secret
from provider_gateway.entrypoints.auth import TOKEN_URL, limit_anonymous
from samspil.runtime.http import Problem

log = structlog.get_logger("provider_gateway.tokens")

router = APIRouter()
REALM = "samspil-provider-gateway"
GRANT_TYPE = "client_credentials"
_CREDENTIAL = re.compile(r"[\x21-\x7e]{1,200}")
_VSCHARS = re.compile(r"[\x20-\x7e]*")  # the characters RFC 6749 allows in client_id and secret
_DUMMY_HASH = hash_secret("no client has this secret")
_HASHING = asyncio.Semaphore(2)
_PARAMETERS = ("grant_type", "client_id", "client_secret", "scope")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class OAuthError(BaseModel):
    """An error from the token endpoint, as RFC 6749 section 5.2 words it."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type"] = Field(
        examples=["invalid_client"]
    )
    error_description: str | None = Field(default=None, examples=["Unknown client or wrong secret."])


class TokenRefused(Exception):
    def __init__(self, error: str, description: str, reason: str | None = None, client_id: str | None = None):
        super().__init__(description)
        self.error, self.description, self.reason = error, description, reason or description
        self.client_id = client_id  # for the log, only once it is known to exist

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        if self.error == "invalid_client":
            # 401 with the scheme the client may authenticate with (RFC 6749 5.2, RFC 7235).
            headers = {**_NO_STORE, "WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
            return JSONResponse(body, status_code=401, headers=headers)
        return JSONResponse(body, status_code=400, headers=_NO_STORE)


def _invalid_request(description: str) -> TokenRefused:
    return TokenRefused("invalid_request", description)


def _invalid_client(reason: str, client_id: str | None = None) -> TokenRefused:
    # The same words for every cause, so the answer does not tell which client ids exist.
    return TokenRefused("invalid_client", "Unknown client or wrong secret.", reason, client_id)


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str | None
    client_id: str | None
    client_secret: str | None


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise _invalid_request("The body is not a form (application/x-www-form-urlencoded).") from None
    names = [name for name, _ in pairs]
    for name in _PARAMETERS:  # parameters we do not know are ignored (RFC 6749 3.2)
        if names.count(name) > 1:
            raise _invalid_request(f"The parameter {name} is sent more than once.")
    # RFC 6749 3.1: a parameter without a value counts as not sent.
    return {name: value for name, value in pairs if name in _PARAMETERS and value}


def _basic(authorization: str | None) -> tuple[str, str] | None:
    """Client id and secret from HTTP Basic, or None if the client did not use it. Other
    schemes (say a bearer token) are no client authentication here and are ignored."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("Basic credentials are not base64 of UTF-8") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("Basic credentials have no colon")
    return unquote_plus(client_id), unquote_plus(secret)


def read_token_request(body: bytes, authorization: str | None) -> TokenRequest:
    """What the client asks for, and with which credentials. Raises `TokenRefused`."""
    fields = _form(body)
    basic = _basic(authorization)
    body_id, body_secret = fields.get("client_id"), fields.get("client_secret")
    if not all(_VSCHARS.fullmatch(value) for value in (body_id or "", body_secret or "")):
        raise _invalid_request("client_id and client_secret are printable ASCII (RFC 6749 appendix A).")
    if basic is None:
        if body_secret is not None and body_id is None:
            raise _invalid_request("client_secret is sent without client_id.")
        return TokenRequest(fields.get("grant_type"), body_id, body_secret)
    if body_secret is not None:
        raise _invalid_request("Authenticate one way only: HTTP Basic or client_secret in the body.")
    if body_id is not None and body_id != basic[0]:
        raise _invalid_request("client_id in the body is not the one in HTTP Basic.")
    return TokenRequest(fields.get("grant_type"), *basic)


def _check(grant: TokenRequest) -> tuple[str, str]:
    if grant.grant_type is None:
        raise _invalid_request("grant_type is missing; send grant_type=client_credentials.")
    if grant.grant_type != GRANT_TYPE:
        raise TokenRefused("unsupported_grant_type", "Only the client_credentials grant is supported.")
    if grant.client_id is None or grant.client_secret is None:
        raise _invalid_client("no client authentication")
    if not (_CREDENTIAL.fullmatch(grant.client_id) and _CREDENTIAL.fullmatch(grant.client_secret)):
        raise _invalid_client("client id or secret not 1-200 printable characters")
    return grant.client_id, grant.client_secret


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
        "client_id": {
            "type": "string",
            "maxLength": 200,
            "description": "With client_secret, when not authenticating with HTTP Basic.",
        },
        "client_secret": {"type": "string", "maxLength": 200},
        "scope": {"type": "string", "description": "Ignored: a token grants the whole provider API."},
    },
}


@router.post(
    TOKEN_URL,
    response_model=TokenOut,
    tags=["auth"],
    responses={
        400: {"model": OAuthError, "description": "invalid_request or unsupported_grant_type"},
        401: {
            "model": OAuthError,
            "description": "invalid_client: unknown client or wrong secret",
            "headers": {
                "WWW-Authenticate": {
                    "description": "The scheme to authenticate with: HTTP Basic.",
                    "schema": {"type": "string", "examples": [f'Basic realm="{REALM}", charset="UTF-8"']},
                }
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA}},
        }
    },
)
async def token(request: Request) -> Response:
    """OAuth2 client-credentials grant: trade a provider's client id and secret for a bearer
    token that lives at most 15 minutes. Authenticate with HTTP Basic (preferred) or with
    client_id and client_secret in the form, not both."""
    try:
        grant = read_token_request(await request.body(), request.headers.get("authorization"))
    except TokenRefused as refused:
        limit_anonymous(request, "token")
        return _refuse(refused)
    if grant.client_id and _CREDENTIAL.fullmatch(grant.client_id):
        request.state.client_id = grant.client_id  # as claimed, for the audit trail
    limit_anonymous(request, "token")
    try:
        client_id, secret = _check(grant)
        access_token, ttl = await _issue(request, client_id, secret)
    except TokenRefused as refused:
        return _refuse(refused)
    body = TokenOut(access_token=access_token, expires_in=ttl)
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


class AuthorizationServerMetadata(BaseModel):
    """What an OAuth2 client library needs to find and use the token endpoint (RFC 8414)."""

    issuer: str = Field(examples=["https://gateway.example.dk"])
    token_endpoint: str = Field(examples=["https://gateway.example.dk/oauth/token"])
    grant_types_supported: list[str] = Field(examples=[[GRANT_TYPE]])
    token_endpoint_auth_methods_supported: list[str] = Field(
        examples=[["client_secret_basic", "client_secret_post"]]
    )
    response_types_supported: list[str] = Field(
        description="Empty: there is no authorization endpoint, only the client-credentials grant."
    )
    service_documentation: str = Field(examples=["https://gateway.example.dk/docs"])


@router.get(
    "/.well-known/oauth-authorization-server", response_model=AuthorizationServerMetadata, tags=["auth"]
)
async def authorization_server_metadata(request: Request, response: Response) -> AuthorizationServerMetadata:
    """Authorization-server metadata (RFC 8414), so OAuth2 libraries discover the token endpoint
    and how to authenticate there. The addresses are ``PROVIDER_GATEWAY_PUBLIC_URL`` (https);
    without it the answer is 503 naming the setting, except in local mode, where they are the
    address this request came to. Never kept by a cache (``Cache-Control: no-store``)."""
    settings = request.app.state.settings
    public_url: str | None = settings.public_url
    if public_url is None:
        if not settings.local_mode:
            log.warning("OAuth2 metadata not served: set PROVIDER_GATEWAY_PUBLIC_URL")
            raise Problem(
                503,
                "not-configured",
                "The gateway's public address is not configured",
                "Set PROVIDER_GATEWAY_PUBLIC_URL to the gateway's https address as providers reach it.",
                headers=_NO_STORE,
            )
        public_url = str(request.base_url)
    response.headers.update(_NO_STORE)
    issuer = public_url.rstrip("/")
    return AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=issuer + TOKEN_URL,
        grant_types_supported=[GRANT_TYPE],
        # HTTP Basic (RFC 6749 2.3.1) or the id and secret in the form: both, one at a time.
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        response_types_supported=[],
        service_documentation=issuer + "/docs",
    )


def _refuse(refused: TokenRefused) -> Response:
    log.info("token request refused", error=refused.error, reason=refused.reason, client_id=refused.client_id)
    return refused.response()


async def _issue(request: Request, client_id: str, secret: str) -> tuple[str, int]:
    client = await repository.active_client(request.app.state.runtime.pool, client_id)
    # scrypt is slow on purpose: run it off the event loop, and for unknown clients too, so
    # the response time does not tell which client ids exist.
    stored = client["secret_hash"] if client is not None else _DUMMY_HASH
    async with _HASHING:  # a bounded number of slow hashes at a time
        valid = await asyncio.to_thread(verify_secret, secret, stored)
    if client is None:
        raise _invalid_client("unknown or disabled client")
    if not valid:
        raise _invalid_client("wrong secret", client_id)
    settings = request.app.state.settings
    ttl: int = settings.token_ttl_seconds
    now = time.time()
    # The generation read with the hash: a rotation after this read revokes this token too.
    claims = TokenClaims(
        client["client_id"], client["provider_id"], int(now) + ttl, client["token_generation"]
    )
    access_token = issue_token(
        claims, settings.token_secret, issuer=settings.token_issuer, audience=settings.token_audience, now=now
    )
    return access_token, ttl
