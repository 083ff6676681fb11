"""Provider tokens through the running gateway: standard JWTs, revoked by a rotation or by
disabling the client, fetched by a standard OAuth2 library either way the RFC allows, rate
limited before the database, and named in the audit trail even when refused early."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session

from provider_gateway.domain.credentials import TokenClaims, issue_token
from tests.e2e.conftest import RunningStack
from tests.e2e.test_gateway_rules import gateway_db
from tests.support import wait_for

pytestmark = pytest.mark.e2e

CLIENT_CREDENTIALS = "client_credentials"


def gateway(stack: RunningStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.url("provider-gateway"), timeout=30)


async def fetch_token(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={"grant_type": CLIENT_CREDENTIALS, "client_id": client_id, "client_secret": secret},
    )


async def new_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    response = await fetch_token(client, client_id, secret)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def referrals_with(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/referrals", headers={"authorization": f"Bearer {token}"})


def rotate(stack: RunningStack, client_id: str) -> str:
    return stack.samspil("provider", "rotate", client_id).split("client_secret:")[1].split()[0]


async def test_a_token_issued_before_a_rotation_is_refused_and_one_issued_after_works(
    running_stack: RunningStack,
) -> None:
    client_id, old_secret = running_stack.add_provider(f"roteret-{uuid.uuid4().hex[:6]}")
    async with gateway(running_stack) as client:
        before = await new_token(client, client_id, old_secret)
        assert (await referrals_with(client, before)).status_code == 200
        new_secret = rotate(running_stack, client_id)
        assert (await referrals_with(client, before)).status_code == 401
        after = await new_token(client, client_id, new_secret)
        assert (await referrals_with(client, after)).status_code == 200
        assert (await referrals_with(client, before)).status_code == 401


async def test_a_disabled_clients_tokens_are_refused_and_it_gets_no_new_one(
    running_stack: RunningStack,
) -> None:
    client_id, secret = running_stack.add_provider(f"lukket-{uuid.uuid4().hex[:6]}")
    other_id, other_secret = running_stack.add_provider(f"aaben-{uuid.uuid4().hex[:6]}")
    async with gateway(running_stack) as client:
        issued = await new_token(client, client_id, secret)
        unaffected = await new_token(client, other_id, other_secret)
        assert (await referrals_with(client, issued)).status_code == 200
        assert "Disabled" in running_stack.samspil("provider", "disable", client_id)
        assert (await referrals_with(client, issued)).status_code == 401
        assert (await referrals_with(client, unaffected)).status_code == 200
        refused = await fetch_token(client, client_id, secret)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


async def test_a_token_is_a_jwt_naming_the_client_the_provider_and_the_provider_api(
    running_stack: RunningStack,
) -> None:
    provider = f"jwt-{uuid.uuid4().hex[:6]}"
    client_id, secret = running_stack.add_provider(provider)
    async with gateway(running_stack) as client:
        response = await fetch_token(client, client_id, secret)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    token = response.json()["access_token"]
    assert response.json()["token_type"] == "Bearer"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["typ"] == "at+jwt" and header["kid"]
    claims = jwt.decode(
        token,
        running_stack.env["PROVIDER_GATEWAY_TOKEN_SECRET"],
        algorithms=["HS256"],
        audience="samspil-provider-api",
        issuer="samspil-provider-gateway",
        options={"require": ["iat", "exp", "jti", "sub"]},
    )
    assert (claims["sub"], claims["client_id"], claims["provider_id"]) == (client_id, client_id, provider)
    assert 0 < claims["exp"] - claims["iat"] <= 900 and abs(claims["iat"] - time.time()) < 60


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_the_token_endpoint_takes_http_basic_and_answers_errors_as_rfc_6749_says(
    running_stack: RunningStack,
) -> None:
    client_id, secret = running_stack.add_provider(f"basic-{uuid.uuid4().hex[:6]}")
    grant = {"grant_type": CLIENT_CREDENTIALS}
    async with gateway(running_stack) as client:
        with_basic = await client.post("/oauth/token", data=grant, headers=basic(client_id, secret))
        assert with_basic.status_code == 200 and with_basic.headers["cache-control"] == "no-store"
        assert (await referrals_with(client, with_basic.json()["access_token"])).status_code == 200

        answers = {
            "both ways": await client.post(
                "/oauth/token", data={**grant, "client_secret": secret}, headers=basic(client_id, secret)
            ),
            "wrong secret in basic": await client.post(
                "/oauth/token", data=grant, headers=basic(client_id, "forkert")
            ),
            "wrong secret in the form": await fetch_token(client, client_id, "forkert"),
            "no client authentication": await client.post("/oauth/token", data=grant),
            "another grant": await client.post(
                "/oauth/token", data={"grant_type": "password"}, headers=basic(client_id, secret)
            ),
            "no grant type": await client.post(
                "/oauth/token", data={"scope": "x"}, headers=basic(client_id, secret)
            ),
        }
    expected = {
        "both ways": (400, "invalid_request"),
        "wrong secret in basic": (401, "invalid_client"),
        "wrong secret in the form": (401, "invalid_client"),
        "no client authentication": (401, "invalid_client"),
        "another grant": (400, "unsupported_grant_type"),
        "no grant type": (400, "invalid_request"),
    }
    assert {case: (r.status_code, r.json()["error"]) for case, r in answers.items()} == expected
    for case, response in answers.items():
        assert response.headers["content-type"] == "application/json", case
        assert response.json()["error_description"], case
        if response.status_code == 401:
            assert response.headers["www-authenticate"].startswith('Basic realm="'), case


def oauth2_session(stack: RunningStack, client_id: str, secret: str, method: str) -> tuple[int, int]:
    """A standard OAuth2 library, told only the token URL, the client's credentials and how to
    send them: its token works on the API."""
    base = stack.url("provider-gateway")
    with OAuth2Session(client_id, secret, token_endpoint_auth_method=method) as session:
        token = session.fetch_token(f"{base}/oauth/token", grant_type=CLIENT_CREDENTIALS)
        listed = session.get(f"{base}/v1/referrals", timeout=30)
        return int(token["expires_in"]), listed.status_code


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_standard_oauth2_client_gets_a_token_and_calls_the_api(
    running_stack: RunningStack, method: str
) -> None:
    client_id, secret = running_stack.add_provider(f"oauthlib-{uuid.uuid4().hex[:6]}")
    expires_in, status = await asyncio.to_thread(oauth2_session, running_stack, client_id, secret, method)
    assert 0 < expires_in <= 900 and status == 200


async def test_the_openapi_document_declares_the_client_credentials_flow(running_stack: RunningStack) -> None:
    async with gateway(running_stack) as client:
        document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    for path, operations in document["paths"].items():
        if path.startswith("/v1/"):
            for method, operation in operations.items():
                assert operation["security"] == [{"oauth2": []}], f"{method} {path}"
    token_answers = document["paths"]["/oauth/token"]["post"]["responses"]
    assert set(token_answers["400"]["content"]) == {"application/json"}
    assert "error" in json.dumps(document["components"]["schemas"]["OAuthError"])


async def test_a_disabled_clients_token_is_still_rate_limited(running_stack: RunningStack) -> None:
    client_id, secret = running_stack.add_provider(f"flod-{uuid.uuid4().hex[:6]}")
    async with gateway(running_stack) as client:
        token = await new_token(client, client_id, secret)
        running_stack.samspil("provider", "disable", client_id)
        responses = await asyncio.gather(*(referrals_with(client, token) for _ in range(120)))
    statuses = [response.status_code for response in responses]
    assert set(statuses) == {401, 429}, "a burst beyond the limit must be refused, disabled client or not"


async def test_every_refused_token_is_told_what_to_do_and_only_the_log_says_why(
    running_stack: RunningStack,
) -> None:
    provider = f"aarsag-{uuid.uuid4().hex[:6]}"
    client_id, secret = running_stack.add_provider(provider)
    key = running_stack.env["PROVIDER_GATEWAY_TOKEN_SECRET"]
    async with gateway(running_stack) as client:
        revoked = await new_token(client, client_id, secret)
        rotate(running_stack, client_id)
        tokens = {
            "revoked": revoked,
            "expired": issue_token(TokenClaims(client_id, provider, int(time.time()) - 1), key),
            "forged": issue_token(TokenClaims(client_id, provider, int(time.time()) + 60), "f" * 48),
            "another api": issue_token(
                TokenClaims(client_id, provider, int(time.time()) + 60), key, audience="samspil-employment"
            ),
        }
        answers = {case: await referrals_with(client, token) for case, token in tokens.items()}
    bodies = {json.dumps(response.json(), sort_keys=True) for response in answers.values()}
    assert {response.status_code for response in answers.values()} == {401}
    assert len(bodies) == 1 and "POST /oauth/token" in bodies.pop()
    assert {response.headers["www-authenticate"] for response in answers.values()} == {
        'Bearer error="invalid_token"'
    }
    log_file = running_stack.stack.logs / "provider-gateway.log"
    reasons = ["token revoked", "expired", "another key", "wrong audience"]

    async def refusals_logged() -> list[str]:
        lines = [line for line in log_file.read_text().splitlines() if "bearer token refused" in line]
        revoked = [line for line in lines if client_id in line and "token revoked" in line]
        return revoked if revoked and all(any(r in line for line in lines) for r in reasons) else []

    assert provider in (await wait_for(refusals_logged))[0]
    log = log_file.read_text()
    assert not [token for token in tokens.values() if token in log or token.split(".")[2] in log]


async def test_a_forged_x_forwarded_for_does_not_escape_the_address_limit(
    running_stack: RunningStack,
) -> None:
    async with gateway(running_stack) as anonymous:
        responses = await asyncio.gather(
            *(anonymous.get("/v1/feed", headers={"x-forwarded-for": f"198.51.100.{n}"}) for n in range(60))
        )
    assert 429 in {response.status_code for response in responses}


async def test_a_request_refused_before_authentication_is_audited_naming_the_client(
    running_stack: RunningStack,
) -> None:
    provider = f"tidlig-{uuid.uuid4().hex[:6]}"
    client_id, secret = running_stack.add_provider(provider)
    path = f"/v1/referrals/{uuid.uuid4()}/absence-notices"
    async with gateway(running_stack) as client:
        token = await new_token(client, client_id, secret)
        refused = await client.post(
            path,
            content=b"absent_from=2026-11-16",
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "text/plain",
                "Idempotency-Key": "k1",
            },
        )
        assert refused.status_code == 415
    conn = await gateway_db(running_stack)
    try:

        async def audited() -> Any:
            return await conn.fetchrow(
                "SELECT client_id, provider_id, method FROM audit.audit_log WHERE path = $1 AND status = 415",
                path,
            )

        row = await wait_for(audited)
    finally:
        await conn.close()
    assert (row["client_id"], row["provider_id"], row["method"]) == (client_id, provider, "POST")
