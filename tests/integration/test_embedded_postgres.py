"""The local PostgreSQL launcher: real TCP logins, per-service isolation, data kept on restart."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from samspil.local.postgres import EmbeddedPostgres, EmbeddedPostgresError, pg_bin_dir
from samspil.local.runner import free_port


def _other_db_url(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


async def test_service_databases_are_isolated_and_survive_restart(server_dir: Path) -> None:
    assert (pg_bin_dir() / "postgres").exists()
    pg = EmbeddedPostgres(server_dir / "pgdata", free_port())
    pg.start()
    try:
        alpha = pg.ensure_service_database("alpha")
        beta = pg.ensure_service_database("beta")
        assert alpha.startswith("postgresql://alpha:") and alpha.endswith(f":{pg.port}/alpha")
        assert (server_dir / "pg-passwords.json").stat().st_mode & 0o777 == 0o600

        conn = await asyncpg.connect(alpha)
        try:
            await conn.execute("CREATE TABLE citizen (id int PRIMARY KEY, name text)")
            await conn.execute("INSERT INTO citizen VALUES (1, 'Søren')")
            assert await conn.fetchval("SELECT name FROM citizen WHERE id = 1") == "Søren"
        finally:
            await conn.close()

        # pg_hba.conf admits each role to its own database only.
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await asyncpg.connect(_other_db_url(alpha, "beta"))
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await asyncpg.connect(_other_db_url(alpha, "postgres"))

        # A second launcher must refuse a data dir whose server is alive, not take it over.
        with pytest.raises(EmbeddedPostgresError, match="already running"):
            EmbeddedPostgres(pg.data_dir, free_port()).start()

        admin = await asyncpg.connect(pg.admin_dsn)
        try:
            assert await admin.fetchval("SELECT current_user") == "postgres"
            assert await admin.fetchval("SHOW max_connections") == "200"
            assert await admin.fetchval("SHOW fsync") == "on"
        finally:
            await admin.close()

        pg.stop()
        pg.stop()  # idempotent
        pg.start()

        assert pg.ensure_service_database("alpha") == alpha
        assert pg.ensure_service_database("beta") == beta
        conn = await asyncpg.connect(alpha)
        try:
            assert await conn.fetchval("SELECT name FROM citizen WHERE id = 1") == "Søren"
        finally:
            await conn.close()
        conn = await asyncpg.connect(beta)
        try:
            # The public schema of beta is closed to everyone but its owner.
            assert not await conn.fetchval("SELECT has_schema_privilege('public', 'public', 'USAGE')")
        finally:
            await conn.close()
    finally:
        pg.stop()


def test_rejects_bad_names(server_dir: Path) -> None:
    pg = EmbeddedPostgres(server_dir / "pgdata", free_port())
    for name in ["Alpha", "a-b", "postgres", "pg_x", "x; DROP", ""]:
        with pytest.raises(ValueError):
            pg.ensure_service_database(name)
