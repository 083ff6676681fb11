"""Operator actions on provider credentials, used by ``samspil provider add|rotate|disable``,
and on their webhook endpoints, used by ``samspil webhooks list|disable|enable|blocks|unblock``.

A secret is returned once, to be handed to the provider; only its hash is stored. Rotating the
secret or disabling the client also revokes every token issued to it so far: each moves the
client's token generation on, and the gateway refuses a token of an older generation.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from provider_gateway.adapters import webhooks
from provider_gateway.domain.credentials import hash_secret, new_client_secret
from samspil.runtime.db import Connection


async def add_provider(conn: Connection, provider_id: str) -> tuple[str, str]:
    client_id = f"{provider_id}-{secrets.token_hex(4)}"
    secret = new_client_secret()
    await conn.execute(
        "INSERT INTO provider_client (client_id, provider_id, secret_hash) VALUES ($1, $2, $3)",
        client_id,
        provider_id,
        hash_secret(secret),
    )
    return client_id, secret


async def rotate_secret(conn: Connection, client_id: str) -> str | None:
    secret = new_client_secret()
    status = await conn.execute(
        "UPDATE provider_client SET secret_hash = $2, token_generation = token_generation + 1"
        " WHERE client_id = $1 AND disabled_at IS NULL",
        client_id,
        hash_secret(secret),
    )
    return secret if status.endswith(" 1") else None


async def disable_client(conn: Connection, client_id: str) -> bool:
    status = await conn.execute(
        "UPDATE provider_client SET disabled_at = now(), token_generation = token_generation + 1"
        " WHERE client_id = $1 AND disabled_at IS NULL",
        client_id,
    )
    return status.endswith(" 1")


async def webhook_endpoints(conn: Connection, provider_id: str | None = None) -> list[dict[str, Any]]:
    """Every provider's webhook endpoints (or one provider's), without their secrets."""
    return [dict(row) for row in await webhooks.all_endpoints(conn, provider_id)]


async def disable_webhook_endpoint(conn: Connection, endpoint_id: uuid.UUID, reason: str) -> bool:
    """Disable an endpoint; the provider sees the reason on it and cannot enable it again."""
    return await webhooks.disable_by_operator(conn, endpoint_id, reason)


async def enable_webhook_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> bool:
    if not await webhooks.enable_by_operator(conn, endpoint_id):
        return False
    await webhooks.resume_pending(conn, endpoint_id)
    return True


async def webhook_blocks(conn: Connection, provider_id: str | None = None) -> list[dict[str, Any]]:
    """The operators' blocks on hosts (every provider's, or one provider's), also those whose
    endpoint the provider deleted since: each with its host, endpoint id and reason."""
    return [dict(row) for row in await webhooks.blocks(conn, provider_id)]


async def unblock_webhook_host(conn: Connection, provider_id: str, host: str) -> list[uuid.UUID]:
    """Lift every block on the host for the provider, and enable the endpoints an operator
    disabled with them; the endpoints whose blocks were lifted (none: there was no such block)."""
    normal = host.strip().strip("[]").rstrip(".").lower()
    return await webhooks.unblock_host(conn, provider_id, normal)
