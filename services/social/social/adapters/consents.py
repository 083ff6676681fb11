"""SQL for the citizen's consents. Every function runs on the caller's connection, inside the
caller's transaction (``expiry_candidates`` reads on the pool, outside any)."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from samspil.runtime.db import Connection
from social.adapters.repository import Reader


async def active_consent(
    conn: Reader, citizen_ref: str, information: str, to_department: str, today: date
) -> uuid.UUID | None:
    consent_id: uuid.UUID | None = await conn.fetchval(
        "SELECT consent_id FROM consent WHERE citizen_ref = $1 AND information = $2 AND to_department = $3"
        " AND withdrawn_on IS NULL AND given_on <= $4 AND expires_on > $4 ORDER BY given_on DESC LIMIT 1",
        citizen_ref,
        information,
        to_department,
        today,
    )
    return consent_id


async def provider_consents(
    conn: Connection, citizen_ref: str, information: str, today: date, consent_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    """The consents in force that let a provider see the information (only ``consent_id`` if given)."""
    return await conn.fetch(
        "SELECT consent_id, to_provider_id, expires_on FROM consent"
        " WHERE citizen_ref = $1 AND information = $2 AND to_provider_id IS NOT NULL"
        " AND withdrawn_on IS NULL AND given_on <= $3 AND expires_on > $3"
        " AND ($4::uuid IS NULL OR consent_id = $4)",
        citizen_ref,
        information,
        today,
        consent_id,
    )


async def insert_consent(
    conn: Connection,
    consent_id: uuid.UUID,
    citizen_ref: str,
    information: str,
    to_department: str | None,
    to_provider_id: str | None,
    purpose: str,
    given_on: date,
    expires_on: date,
    by: str,
) -> None:
    await conn.execute(
        "INSERT INTO consent (consent_id, citizen_ref, information, to_department, to_provider_id, purpose,"
        " given_on, expires_on, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        consent_id,
        citizen_ref,
        information,
        to_department,
        to_provider_id,
        purpose,
        given_on,
        expires_on,
        by,
    )


async def consent_of(conn: Connection, consent_id: uuid.UUID, citizen_ref: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT consent_id, information, to_department, to_provider_id, withdrawn_on FROM consent"
        " WHERE consent_id = $1 AND citizen_ref = $2",
        consent_id,
        citizen_ref,
    )


async def mark_withdrawn(conn: Connection, consent_id: uuid.UUID, on: date) -> None:
    await conn.execute("UPDATE consent SET withdrawn_on = $2 WHERE consent_id = $1", consent_id, on)


async def expiry_candidates(pool: asyncpg.Pool, today: date, batch: int) -> list[asyncpg.Record]:
    """Consents run out by ``today`` whose expiry is not handled yet, the oldest first."""
    return await pool.fetch(
        "SELECT consent_id, citizen_ref FROM consent WHERE withdrawn_on IS NULL AND NOT expiry_handled"
        " AND expires_on <= $1 ORDER BY expires_on LIMIT $2",
        today,
        batch,
    )


async def lock_citizen(conn: Connection, citizen_ref: str) -> None:
    await conn.execute("SELECT 1 FROM citizen WHERE citizen_ref = $1 FOR UPDATE", citizen_ref)


async def claim_expired(conn: Connection, consent_id: uuid.UUID) -> asyncpg.Record | None:
    """The run-out consent, locked and re-read, if nobody withdrew or handled it meanwhile."""
    return await conn.fetchrow(
        "SELECT consent_id, citizen_ref, information, to_department, to_provider_id FROM consent"
        " WHERE consent_id = $1 AND withdrawn_on IS NULL AND NOT expiry_handled"
        " FOR UPDATE SKIP LOCKED",
        consent_id,
    )


async def mark_expiry_handled(conn: Connection, consent_id: uuid.UUID) -> None:
    await conn.execute("UPDATE consent SET expiry_handled = true WHERE consent_id = $1", consent_id)
