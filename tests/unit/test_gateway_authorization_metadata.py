"""The gateway's RFC 8414 metadata, as a caller on the network sees it: the addresses are the
configured public https address, never one the request chose, and no shared cache keeps them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from provider_gateway.bootstrap import build_app
from provider_gateway.settings import GatewaySettings


def _gateway(**settings: Any) -> FastAPI:
    return build_app(
        GatewaySettings(
            database_url="postgresql://unused/unused",
            token_secret="t" * 48,
            dead_letter_key="d" * 32,
            **settings,
        )
    )


async def test_the_authorization_server_metadata_never_names_a_host_or_scheme_the_caller_chose() -> None:
    """Found by review: with PROVIDER_GATEWAY_PUBLIC_URL unset the metadata was built from the
    request: its Host header and the scheme uvicorn saw. The gateway serves plain HTTP behind a
    TLS-terminating ingress (proxy headers off), so the discovered token endpoint was http:// - a
    client library that discovers it (authlib, as the e2e test does) sends its client secret in
    clear text - and any Host the request carried. With no Cache-Control, a shared cache keyed on
    the path (nginx's default proxy_cache_key uses the upstream host, not the client's) serves an
    attacker's Host to every provider, and their client secrets go to the attacker's token
    endpoint. Now the deployment sets the public https address, and only that is named, whatever
    the request's Host, in an answer no cache keeps."""
    app = _gateway(public_url="https://providers.example.dk")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        found = await http.get(
            "/.well-known/oauth-authorization-server", headers={"Host": "attacker.example"}
        )
    assert found.status_code == 200
    metadata = found.json()
    assert "attacker.example" not in metadata["token_endpoint"], metadata
    assert metadata["token_endpoint"].startswith("https://"), metadata
    assert metadata["token_endpoint"] == "https://providers.example.dk/oauth/token"
    assert found.headers["cache-control"] == "no-store"


async def _metadata(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        return await http.get("/.well-known/oauth-authorization-server", headers={"Host": "attacker.example"})


async def test_without_a_public_url_outside_local_mode_the_metadata_says_which_setting_to_set() -> None:
    found = await _metadata(_gateway())
    assert found.status_code == 503
    assert found.headers["content-type"] == "application/problem+json"
    assert "PROVIDER_GATEWAY_PUBLIC_URL" in found.json()["detail"]
    assert "attacker.example" not in found.text
    assert found.headers["cache-control"] == "no-store"


def test_a_plain_http_public_url_is_refused_outside_local_mode() -> None:
    with pytest.raises(ValidationError, match="PROVIDER_GATEWAY_PUBLIC_URL must be https"):
        _gateway(public_url="http://providers.example.dk")
    local = _gateway(public_url="http://localhost:8080", local_mode=True)
    assert local.state.settings.public_url == "http://localhost:8080"


async def test_in_local_mode_without_a_public_url_the_metadata_names_the_address_requested() -> None:
    found = await _metadata(_gateway(local_mode=True))
    assert found.status_code == 200
    assert found.json()["token_endpoint"] == "http://attacker.example/oauth/token"
    assert found.headers["cache-control"] == "no-store"


def test_local_mode_is_one_switch_for_the_metadata_and_the_webhooks() -> None:
    settings = GatewaySettings.model_validate(
        {"database_url": "postgresql://unused/unused", "token_secret": "t" * 48, "dead_letter_key": "d" * 32}
        | {"local_mode": "true"}
    )
    assert settings.webhook_local_mode
    assert not _gateway(local_mode=True, webhook_local_mode=False).state.settings.webhook_local_mode
