"""The portal's built-in user store: people of a provider who log in with an e-mail address and a
password (local runs, tests, and providers without an identity provider). Passwords are hashed
with argon2id at OWASP's cost (19 MiB, t=2, p=1); a generated password is shown once and never
stored."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from argon2 import Parameters, PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from provider_gateway.adapters import portal_people
from samspil.runtime.db import Connection

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
CHECKS_AT_ONCE = 2
CHECK_WAIT_SECONDS = 5.0
_checks = ThreadPoolExecutor(max_workers=CHECKS_AT_ONCE, thread_name_prefix="portal-password")
_gates: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


@functools.cache
def _nobody() -> tuple[str, ...]:
    """A refused login checks one hash at each cost a stored hash may have: today's, and
    argon2-cffi's defaults (t=3, 64 MiB, p=4) of the hashes made before, replaced only at their
    person's next right login. The person's own hash stands for its cost, one of these for each
    other cost (all of them for an unknown address), so the time of a refusal tells nobody which
    addresses exist. Made at the first refusal, not at import (the old cost's 64 MiB would count
    in every gateway process's peak memory)."""
    return tuple(
        hasher.hash(secrets.token_urlsafe(16))
        for hasher in (_hasher, PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4))
    )


MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    """A password too short to be set."""


class LoginBusy(Exception):
    """Every password check is taken and none came free in time: try again in a moment."""


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        for other in [known for known in _gates if known.is_closed()]:
            del _gates[other]
        gate = _gates[loop] = asyncio.Semaphore(CHECKS_AT_ONCE)
    return gate


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


@asynccontextmanager
async def checking() -> AsyncIterator[None]:
    """One of the CHECKS_AT_ONCE password checks, held for the block; `LoginBusy` when none
    comes free within CHECK_WAIT_SECONDS."""
    gate = _gate()
    try:
        async with asyncio.timeout(CHECK_WAIT_SECONDS):
            await gate.acquire()
    except TimeoutError:
        raise LoginBusy from None
    try:
        yield
    finally:
        gate.release()


def _parameters(password_hash: str) -> Parameters | None:
    try:
        return extract_parameters(password_hash)
    except InvalidHashError:
        return None


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed (in a thread of the checks' own: argon2 takes tens
    of milliseconds of CPU on purpose). None (an unknown person, or one without a password)
    never matches. A refusal costs the same whatever the hash (see `_nobody`). Call it inside
    `checking`."""

    def check() -> bool:
        if password_hash is not None and _matches(password_hash, password):
            return True
        checked = None if password_hash is None else _parameters(password_hash)
        for other in _nobody():
            if _parameters(other) != checked:
                _matches(other, password)
        return False

    return await asyncio.get_running_loop().run_in_executor(_checks, check)


async def rehashed(password_hash: str, password: str) -> str | None:
    """A hash of ``password`` at today's cost when ``password_hash`` (which it matched) was made
    at another, else None. Call it inside `checking`."""
    if not _hasher.check_needs_rehash(password_hash):
        return None
    return await asyncio.get_running_loop().run_in_executor(_checks, _hasher.hash, password)


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
        elif existing["oidc"]:
            # The address came from an identity provider's claim: a password here would make its
            # owner and the identity provider's person one account.
            raise ValueError(f"{email} logs in through the identity provider; it cannot have a password")
        else:
            # A new password is how a leaked one is replaced: whoever logged in with it is out.
            await portal_people.set_password(conn, existing["person_id"], password_hash)
    return password
