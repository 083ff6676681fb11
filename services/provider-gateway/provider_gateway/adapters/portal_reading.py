"""SQL for what the provider portal reads beyond the API's own reads (those are in
`repository`): the inbox's tabs and name search, the start page's feed and how far each person
has read it, and a referral's reports. Each query is served by an index (migration 016;
tests/integration/test_query_plans.py proves it)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from provider_gateway.adapters.repository import REFERRAL_COLUMNS
from samspil.runtime.db import Connection

# The words of a display name, as the search index holds them.
_NAME_WORDS = "to_tsvector('simple', citizen_display_name)"


async def inbox_page(
    conn: Connection | asyncpg.Pool,
    provider_id: str,
    *,
    tab: str | None,
    name_query: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The provider's referrals newest change first, keyset-paged by (updated_at, referral_id)
    descending: one tab (``referral_view.inbox_tab``) or all, and only those whose display name
    matches ``name_query`` (a tsquery) when given. Only the conditions asked for are in the
    statement, so each shape gets the plan that fits it."""
    conditions: list[str] = ["provider_id = $1"]
    args: list[object] = [provider_id]
    if tab is not None:
        args.append(tab)
        conditions.append(f"inbox_tab = ${len(args)}")
    if name_query is not None:
        args.append(name_query)
        conditions.append(f"{_NAME_WORDS} @@ to_tsquery('simple', ${len(args)})")
    if before is not None:
        args.extend(before)
        conditions.append(f"(updated_at, referral_id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    return await conn.fetch(
        f"SELECT {REFERRAL_COLUMNS} FROM referral_view WHERE {' AND '.join(conditions)}"
        f" ORDER BY updated_at DESC, referral_id DESC LIMIT ${len(args)}",
        *args,
    )


async def display_names(
    conn: Connection | asyncpg.Pool, provider_id: str, referral_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The citizens' display names of these referrals of the provider's."""
    rows = await conn.fetch(
        "SELECT referral_id, citizen_display_name FROM referral_view"
        " WHERE referral_id = ANY($1::uuid[]) AND provider_id = $2",
        referral_ids,
        provider_id,
    )
    return {row["referral_id"]: row["citizen_display_name"] for row in rows}


async def citizen_of(
    conn: Connection | asyncpg.Pool, provider_id: str, referral_id: uuid.UUID
) -> asyncpg.Record | None:
    """The display name and reference of the citizen of the provider's referral."""
    return await conn.fetchrow(
        "SELECT citizen_display_name, citizen_ref FROM referral_view"
        " WHERE referral_id = $1 AND provider_id = $2",
        referral_id,
        provider_id,
    )


_FEED_COLUMNS = "position AS seq, kind, referral_id, submission_id, data, at"


async def feed_after(
    conn: Connection | asyncpg.Pool, provider_id: str, seen: int, limit: int
) -> list[asyncpg.Record]:
    """The provider's feed entries after position ``seen``, newest first."""
    return await conn.fetch(
        f"SELECT {_FEED_COLUMNS} FROM provider_feed WHERE provider_id = $1 AND position > $2"
        " ORDER BY position DESC LIMIT $3",
        provider_id,
        seen,
        limit,
    )


async def feed_up_to(
    conn: Connection | asyncpg.Pool, provider_id: str, seen: int, limit: int
) -> list[asyncpg.Record]:
    """The provider's feed entries at or before position ``seen``, newest first."""
    return await conn.fetch(
        f"SELECT {_FEED_COLUMNS} FROM provider_feed WHERE provider_id = $1 AND position <= $2"
        " ORDER BY position DESC LIMIT $3",
        provider_id,
        seen,
        limit,
    )


async def seen_position(conn: Connection | asyncpg.Pool, person_id: uuid.UUID, provider_id: str) -> int:
    """How far the person has read their provider's feed; 0 before their first visit (or when
    they now belong to another provider)."""
    seen: int | None = await conn.fetchval(
        "SELECT seen_position FROM portal_feed_seen WHERE person_id = $1 AND provider_id = $2",
        person_id,
        provider_id,
    )
    return seen or 0


async def mark_seen(
    conn: Connection | asyncpg.Pool, person_id: uuid.UUID, provider_id: str, position: int
) -> None:
    """The person has seen the feed up to ``position``; it only moves forward (two tabs open
    at once cannot move it back), unless the person moved to another provider."""
    await conn.execute(
        "INSERT INTO portal_feed_seen (person_id, provider_id, seen_position) VALUES ($1, $2, $3)"
        " ON CONFLICT (person_id) DO UPDATE SET seen_at = now(), provider_id = EXCLUDED.provider_id,"
        " seen_position = CASE WHEN portal_feed_seen.provider_id = EXCLUDED.provider_id"
        " THEN greatest(portal_feed_seen.seen_position, EXCLUDED.seen_position)"
        " ELSE EXCLUDED.seen_position END",
        person_id,
        provider_id,
        position,
    )


async def submissions_for_referral(
    conn: Connection | asyncpg.Pool, provider_id: str, referral_id: uuid.UUID, limit: int
) -> list[asyncpg.Record]:
    """The reports the provider sent on one of its referrals, newest first."""
    return await conn.fetch(
        "SELECT submission_id, kind, status, received_at, updated_at FROM submission"
        " WHERE referral_id = $1 AND provider_id = $2 ORDER BY received_at DESC LIMIT $3",
        referral_id,
        provider_id,
        limit,
    )
