"""The provider portal's people and sessions in the gateway's database (migration 015).

A session is looked up by the hash of its id, and its idle and absolute limits are checked in
the same statement that marks it used: one round trip a page."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, TypeAlias

import asyncpg

from samspil.runtime.db import Connection

Executor: TypeAlias = "Connection | asyncpg.Pool"


async def insert_person(
    conn: Executor,
    *,
    provider_id: str,
    email: str,
    display_name: str,
    password_hash: str | None,
    oidc_issuer: str | None = None,
    oidc_subject: str | None = None,
) -> uuid.UUID:
    person_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO portal_person (person_id, provider_id, email, display_name, password_hash,"
        " oidc_issuer, oidc_subject) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        person_id,
        provider_id,
        email,
        display_name,
        password_hash,
        oidc_issuer,
        oidc_subject,
    )
    return person_id


async def set_password(conn: Executor, person_id: uuid.UUID, password_hash: str) -> None:
    """A new password for the person, their failed logins forgotten and every session of
    theirs ended (run it in a transaction)."""
    await conn.execute(
        "UPDATE portal_person SET password_hash = $2, failed_logins = 0, locked_until = NULL"
        " WHERE person_id = $1",
        person_id,
        password_hash,
    )
    await end_sessions_of(conn, person_id)


async def person_by_email(conn: Executor, email: str) -> Any:
    return await conn.fetchrow(
        "SELECT person_id, provider_id, email, display_name, password_hash, failed_logins,"
        " locked_until > now() AS locked, disabled_at IS NOT NULL AS disabled,"
        " oidc_subject IS NOT NULL AS oidc"
        " FROM portal_person WHERE lower(email) = lower($1)",
        email,
    )


async def login_attempt(conn: Executor, email: str, attempts: int, lockout: timedelta) -> Any:
    """Count a login attempt on the person who logs in with ``email`` BEFORE their password is
    checked, in one statement, so guesses sent at once cannot all be checked before the first
    is counted: the ``attempts``-th in a row locks the account for ``lockout`` (a right password
    among them resets the count, `login_succeeded`). The count starts again once a lockout has
    passed. The person (with their password hash), or None when there is none who may try now
    (unknown, disabled, locked, or logging in through the identity provider only)."""
    return await conn.fetchrow(
        "UPDATE portal_person SET"
        " failed_logins = CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END,"
        " locked_until = CASE WHEN (CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END) >= $2"
        " THEN now() + $3::interval END"
        " WHERE lower(email) = lower($1) AND disabled_at IS NULL AND password_hash IS NOT NULL"
        " AND (locked_until IS NULL OR locked_until <= now())"
        " RETURNING person_id, provider_id, email, display_name, password_hash",
        email,
        attempts,
        lockout,
    )


async def login_succeeded(
    conn: Executor, person_id: uuid.UUID, checked_hash: str, new_hash: str | None = None
) -> str | None:
    """The failed logins forgotten and the password hash replaced by ``new_hash`` (the same
    password at today's cost), only while the person still has the hash the password was checked
    against and is not disabled: the hash they now have (to start the session with,
    `start_session`), or None when the password was replaced or the person disabled meanwhile."""
    stored: str | None = await conn.fetchval(
        "UPDATE portal_person SET failed_logins = 0, locked_until = NULL,"
        " password_hash = coalesce($3, password_hash)"
        " WHERE person_id = $1 AND password_hash = $2 AND disabled_at IS NULL"
        " RETURNING password_hash",
        person_id,
        checked_hash,
        new_hash,
    )
    return stored


async def provider_known(conn: Executor, provider_id: str) -> bool:
    """Whether the gateway knows ``provider_id``: it has an API client in use here or a
    referral (the departments' word that it exists)."""
    known: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM provider_client WHERE provider_id = $1 AND disabled_at IS NULL)"
        " OR EXISTS (SELECT 1 FROM referral_view WHERE provider_id = $1)",
        provider_id,
    )
    return known


async def oidc_person(
    conn: Executor, issuer: str, subject: str, provider_id: str, email: str, display_name: str
) -> Any:
    """The person the identity provider names (created at the first login; their e-mail and name
    kept as it says). None when they were disabled here or a later login names another provider
    than their first (a person's provider never changes by a login): `oidc_refusal` says which."""
    return await conn.fetchrow(
        "INSERT INTO portal_person (person_id, provider_id, email, display_name, oidc_issuer, oidc_subject)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (oidc_issuer, oidc_subject) WHERE oidc_issuer IS NOT NULL DO UPDATE"
        " SET email = EXCLUDED.email, display_name = EXCLUDED.display_name"
        " WHERE portal_person.disabled_at IS NULL AND portal_person.provider_id = EXCLUDED.provider_id"
        " RETURNING person_id, provider_id, email, display_name",
        uuid.uuid4(),
        provider_id,
        email,
        display_name,
        issuer,
        subject,
    )


async def oidc_refusal(conn: Executor, issuer: str, subject: str) -> str:
    """Why `oidc_person` let nobody in: "disabled" or "another provider"."""
    disabled: bool = await conn.fetchval(
        "SELECT disabled_at IS NOT NULL FROM portal_person WHERE oidc_issuer = $1 AND oidc_subject = $2",
        issuer,
        subject,
    )
    return "disabled" if disabled else "another provider"


async def start_session(
    conn: Executor,
    session_hash: str,
    person_id: uuid.UUID,
    lifetime: timedelta,
    checked_hash: str | None = None,
) -> bool:
    """A session for the person, in one statement only while they are not disabled and (given
    ``checked_hash``, the hash their password was checked against) still have that password.
    The person's row is share-locked, so `set_password` and `set_disabled` (which change it, then
    end the person's sessions) either wait for this session and end it, or are seen by it. Whether
    the session was started."""
    status: str = await conn.execute(
        "INSERT INTO portal_session (session_hash, person_id, expires_at)"
        " SELECT $1, person_id, now() + $3::interval FROM portal_person"
        " WHERE person_id = $2 AND disabled_at IS NULL AND ($4::text IS NULL OR password_hash = $4)"
        " FOR SHARE",
        session_hash,
        person_id,
        lifetime,
        checked_hash,
    )
    return status == "INSERT 0 1"


async def use_session(conn: Executor, session_hash: str, idle: timedelta) -> Any:
    """The session's person, the session marked used now; None when there is no such session,
    it has been idle longer than ``idle`` or outlived its lifetime, or the person was disabled."""
    # The person is named by the session's person_id looked up first (a value to the planner),
    # not only joined: the statement's generic plan, made while a new database's tables were
    # nearly empty and never analysed, would otherwise read every person on each page.
    return await conn.fetchrow(
        "UPDATE portal_session s SET last_seen_at = now() FROM portal_person p"
        " WHERE s.session_hash = $1 AND p.person_id = s.person_id"
        " AND p.person_id = (SELECT person_id FROM portal_session WHERE session_hash = $1)"
        " AND s.last_seen_at > now() - $2::interval AND s.expires_at > now() AND p.disabled_at IS NULL"
        " RETURNING p.person_id, p.provider_id, p.email, p.display_name",
        session_hash,
        idle,
    )


async def set_disabled(conn: Executor, provider_id: str, email: str, disabled: bool) -> bool:
    """Close (``disabled``) or reopen the portal to the person of ``provider_id`` who logs in as
    ``email``; closing ends their sessions at once. Whether there is such a person. Run it in a
    transaction."""
    person_id = await conn.fetchval(
        "UPDATE portal_person SET disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) END,"
        " failed_logins = 0, locked_until = NULL"
        " WHERE provider_id = $1 AND lower(email) = lower($2) RETURNING person_id",
        provider_id,
        email,
        disabled,
    )
    if person_id is not None and disabled:
        await end_sessions_of(conn, person_id)
    return person_id is not None


async def people_of(conn: Executor, provider_id: str) -> list[Any]:
    """The portal's people of ``provider_id`` (never a password hash), by e-mail address."""
    rows: list[Any] = await conn.fetch(
        "SELECT p.email, p.display_name, CASE WHEN p.oidc_subject IS NULL THEN 'password'"
        " ELSE 'identity provider' END AS login, p.created_at, p.disabled_at,"
        " p.locked_until > now() AS locked,"
        " (SELECT count(*) FROM portal_session s WHERE s.person_id = p.person_id"
        " AND s.expires_at > now()) AS sessions"
        " FROM portal_person p WHERE p.provider_id = $1 ORDER BY lower(p.email)",
        provider_id,
    )
    return rows


async def end_sessions_of(conn: Executor, person_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM portal_session WHERE person_id = $1", person_id)


async def end_session(conn: Executor, session_hash: str) -> None:
    await conn.execute("DELETE FROM portal_session WHERE session_hash = $1", session_hash)


async def forget_expired_sessions(conn: Executor) -> None:
    await conn.execute("DELETE FROM portal_session WHERE expires_at < now()")
