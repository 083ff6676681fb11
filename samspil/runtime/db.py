"""Connection pools and the plain-SQL migration runner."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What handlers receive: a plain connection or one lent by a pool; both behave the same.
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

# Any constant works; it only has to be the same in every replica of every service.
_MIGRATION_LOCK = 7_310_001


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


def database_tls_problem(error: BaseException, variable: str, url: str | None = None) -> str | None:
    """What went wrong with TLS to PostgreSQL, naming the variable that holds the URL (whose
    ``sslmode``, ``sslrootcert``, ``sslcert`` and ``sslkey`` asyncpg reads), or None when
    ``error`` is no TLS failure. Never quotes the URL: it holds a password."""
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or str(error.reason)
        if error.verify_code == _HOSTNAME_MISMATCH:
            return (
                f"PostgreSQL TLS: certificate verify failed: {detail} (the server's certificate "
                f"does not name the host in {variable})"
            )
        return (
            f"PostgreSQL TLS: certificate verify failed: {detail} (check sslrootcert in {variable} "
            "or PGSSLROOTCERT)"
        )
    if isinstance(error, ssl.SSLError):
        reason = error.reason or type(error).__name__
        return (
            f"PostgreSQL TLS: the TLS handshake failed ({reason}; check sslmode, sslcert and sslkey "
            f"in {variable})"
        )
    if isinstance(error, ConnectionError) and "rejected SSL upgrade" in str(error):
        return f"PostgreSQL TLS: the server does not offer TLS, which sslmode in {variable} requires"
    if isinstance(error, OSError) and url is not None:
        # asyncpg's error names no file; say which of the URL's (or libpq's variables') it is.
        named = parse_qs(urlsplit(url).query)
        for parameter, fallback in _TLS_FILES.items():
            path = (named.get(parameter) or [os.environ.get(fallback, "")])[0]
            if path and not os.access(path, os.R_OK):
                where = f"{parameter} in {variable}" if parameter in named else fallback
                return f"PostgreSQL TLS: {where}: cannot read {path}"
    return None


_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
_TLS_FILES = {"sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY"}


def _sql_files(package: str) -> list[Traversable]:
    folder = resources.files(package)
    return sorted(
        (item for item in folder.iterdir() if item.name.endswith(".sql")),
        key=lambda item: item.name,
    )


async def pending_migrations(conn: Connection, *packages: str) -> list[str]:
    """The names of the packages' migration files ``migrate`` has not applied yet, in order."""
    applied: set[str] = set()
    if await conn.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL"):
        applied = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migration")}
    names = [f"{package}/{file.name}" for package in packages for file in _sql_files(package)]
    return [name for name in names if name not in applied]


class MigrationRefused(RuntimeError):
    """The service's role may not apply a migration: after ``samspil audit protect`` it no
    longer owns schema ``audit``, so a migration that changes it must be applied by that
    schema's owner (``samspil audit migrate``). The message says so in one line."""

    def __init__(self, name: str, reason: str, audit_owner: str | None, service: str = "SERVICE") -> None:
        self.name, self.reason, self.audit_owner = name, reason, audit_owner
        said = f"migration {name} is refused to the service's role ({reason})"
        if audit_owner is not None:
            said += (
                f"; schema audit belongs to {audit_owner} since 'samspil audit protect': apply it as that"
                f" owner with 'samspil audit migrate {service}' (a superuser's --admin-url), then start"
                " the service again"
            )
        super().__init__(said)

    def of(self, service: str) -> MigrationRefused:
        """The same, naming the service in the command to run."""
        return MigrationRefused(self.name, self.reason, self.audit_owner, service)


async def migrate(pool: asyncpg.Pool, *packages: str) -> list[str]:
    """Apply each package's ``*.sql`` files in name order, once, under an advisory lock so two
    replicas starting together do not race. Returns the names applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn, migration_lock(conn):
        for name in await pending_migrations(conn, *packages):
            try:
                async with conn.transaction():
                    await conn.execute(migration_text(name))
                    await conn.execute("INSERT INTO schema_migration (name) VALUES ($1)", name)
            except asyncpg.InsufficientPrivilegeError as error:
                owner = await conn.fetchval(
                    "SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace"
                    " WHERE nspname = 'audit' AND nspowner <> (SELECT oid FROM pg_catalog.pg_roles"
                    " WHERE rolname = current_user)"
                )
                raise MigrationRefused(name, " ".join(str(error).split()), owner) from None
            applied_now.append(name)
    return applied_now


@asynccontextmanager
async def migration_lock(conn: Connection) -> AsyncIterator[None]:
    """Held while migrating (by one replica, or `samspil audit migrate`); makes sure the table
    that records the applied migrations exists."""
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)


def migration_text(name: str) -> str:
    """The SQL of a migration named as `pending_migrations` names it."""
    package, file = name.split("/")
    return (resources.files(package) / file).read_text(encoding="utf-8")
