"""The portal's built-in user store: people of a provider who log in with an e-mail address and a
password (local runs, tests, and providers without an identity provider). Passwords are hashed
with argon2id (argon2-cffi's defaults); a generated password is shown once and never stored."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from provider_gateway.adapters import portal_people
from samspil.runtime.db import Connection

_hasher = PasswordHasher()
# Checked against when the e-mail address is unknown, so an unknown address takes as long to
# refuse as a wrong password (the time tells nobody which addresses exist).
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    """A password too short to be set."""


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed (in a thread: argon2 takes tens of milliseconds
    of CPU on purpose). None (an unknown person, or one without a password) never matches,
    after the same work."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _NOBODY, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def add_person(
    conn: Connection,
    provider_id: str,
    email: str,
    display_name: str | None = None,
    password: str | None = None,
) -> str:
    """Add a person of ``provider_id`` who logs in as ``email``, or give an existing one a new
    password; the password (``password``, or a generated one), to be handed over once. Used by
    ``samspil provider user add`` and the tests."""
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise ValueError(f"Not an e-mail address: {email!r}")
    password = password if password is not None else new_password()
    password_hash = hash_password(password)
    async with conn.transaction():
        existing = await portal_people.person_by_email(conn, email)
        if existing is None:
            await portal_people.insert_person(
                conn,
                provider_id=provider_id,
                email=email,
                display_name=display_name or email.split("@")[0],
                password_hash=password_hash,
            )
        elif existing["provider_id"] != provider_id:
            raise ValueError(f"{email} belongs to another provider ({existing['provider_id']})")
        else:
            await portal_people.set_password(conn, email, password_hash)
    return password
