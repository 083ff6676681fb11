"""The hash chain of the audit tables on the real PostgreSQL: rows chain in order also when
written concurrently and in another time zone, `verify_chains` names the first row edited or
missing, rows that existed before the chain are linked by the migration, and the specialist
unit's ruling and the text meant for the provider are logged as shared; after `protect` the
service's role may only insert and read."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from importlib import resources
from urllib.parse import urlsplit

import asyncpg
import pytest

from samspil import cli
from samspil.runtime.audit import admin_connect, protect, protection_status, verify_chains
from samspil.runtime.db import create_pool, migrate, pending_migrations
from schemas.commands import ObjectToDecision, RuleDispute
from schemas.disputes import RulingOutcome
from social.adapters import repository
from social.service_layer import protocol
from social.service_layer.messages import Actor
from tests.infra import Infra
from tests.integration.test_social_protocol import SOCIAL_TEAM, informed
from tests.support import citizen_ref

SPECIALIST = Actor(name="Specialenhedens formand", team="Fælles specialenhed")


async def share(pool: asyncpg.Pool, subject: str, information: str = "social-plan-summary") -> None:
    async with pool.acquire() as conn, conn.transaction():
        await repository.log_share(
            conn, subject, information, "employment", "test basis", "Sam", uuid.uuid4()
        )


async def broken_link(pool: asyncpg.Pool) -> str | None:
    async with pool.acquire() as conn:
        [report] = [r for r in await verify_chains(conn) if r.table == "audit.share_log"]
    return None if report.broken is None else str(report.broken)


async def test_concurrent_shares_form_one_unbroken_chain(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    await asyncio.gather(*(share(social_db, subject) for _ in range(25)))
    seqs = [row["chain_seq"] for row in await social_db.fetch("SELECT chain_seq FROM audit.share_log")]
    assert sorted(seqs) == list(range(1, 26))
    async with social_db.acquire() as conn:
        [report] = [r for r in await verify_chains(conn) if r.table == "audit.share_log"]
        last = await conn.fetchval("SELECT chain_hash FROM audit.share_log WHERE chain_seq = 25")
    assert (report.rows, report.broken, report.head_seq, report.head_hash) == (25, None, 25, last)


async def test_a_row_written_in_another_time_zone_still_verifies(social_db: asyncpg.Pool) -> None:
    async with social_db.acquire() as conn:
        await conn.execute("SET TIME ZONE 'America/Godthab'")
        await repository.log_share(
            conn, citizen_ref(), "readiness", "employment", "basis", "Sam", uuid.uuid4()
        )
        await conn.execute("RESET TIME ZONE")
    await share(social_db, citizen_ref())
    assert await broken_link(social_db) is None


async def test_verify_names_the_row_edited_by_hand_and_the_row_deleted(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    for _ in range(5):
        await share(social_db, subject)
    third = await social_db.fetchrow("SELECT * FROM audit.share_log WHERE chain_seq = 3")
    assert third is not None
    # As someone who may switch the append-only trigger off would (the database owner here).
    async with social_db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit.share_log DISABLE TRIGGER share_log_append_only")
        await conn.execute("UPDATE audit.share_log SET recipient = 'nobody' WHERE chain_seq = 3")
        await conn.execute("ALTER TABLE audit.share_log ENABLE TRIGGER share_log_append_only")
    edited = await broken_link(social_db)
    assert edited is not None and f"seq 3 (row id {third['id']})" in edited and "edited" in edited

    async with social_db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit.share_log DISABLE TRIGGER share_log_append_only")
        await conn.execute(
            "UPDATE audit.share_log SET recipient = $1 WHERE chain_seq = 3", third["recipient"]
        )
        await conn.execute("ALTER TABLE audit.share_log ENABLE TRIGGER share_log_append_only")
    assert await broken_link(social_db) is None  # the original content links again

    fourth_id = await social_db.fetchval("SELECT id FROM audit.share_log WHERE chain_seq = 4")
    async with social_db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit.share_log DISABLE TRIGGER share_log_append_only")
        await conn.execute("DELETE FROM audit.share_log WHERE chain_seq = 3")
        await conn.execute("ALTER TABLE audit.share_log ENABLE TRIGGER share_log_append_only")
    deleted = await broken_link(social_db)
    assert deleted is not None and f"seq 4 (row id {fourth_id})" in deleted and "3..3 are missing" in deleted


async def test_the_share_log_refuses_changes_even_from_its_owner(social_db: asyncpg.Pool) -> None:
    await share(social_db, citizen_ref())
    for statement in (
        "UPDATE audit.share_log SET recipient = 'nobody'",
        "DELETE FROM audit.share_log",
        "TRUNCATE audit.share_log",
    ):
        try:
            await social_db.execute(statement)
        except asyncpg.RaiseError as error:
            assert "append-only" in str(error)
        else:
            raise AssertionError(f"{statement} was allowed")


async def test_rows_from_before_the_chain_are_linked_by_the_migration(social_db: asyncpg.Pool) -> None:
    async with social_db.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TABLE audit.earlier (id bigserial PRIMARY KEY, what text NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now(), chain_seq bigint, chain_hash text)"
        )
        await conn.execute("INSERT INTO audit.earlier (what) SELECT 'row ' || n FROM generate_series(1, 4) n")
        await conn.execute("SELECT audit.chain_existing_rows('audit.earlier')")
    async with social_db.acquire() as conn:
        [report] = [r for r in await verify_chains(conn) if r.table == "audit.earlier"]
    assert (report.rows, report.broken) == (4, None)


async def test_the_ruling_is_logged_as_shared_with_both_teams_and_the_text_with_the_provider(
    social_db: asyncpg.Pool,
) -> None:
    subject = citizen_ref()
    decision_id = await informed(social_db, subject)
    objection = ObjectToDecision(decision_id=decision_id, position="Risiko for tilbagefald.", team="Team 2")
    async with social_db.acquire() as conn, conn.transaction():
        dispute_id = await protocol.object_to_decision(
            conn, subject, objection, SOCIAL_TEAM, date(2027, 3, 2), 10
        )
    ruling = RuleDispute(
        dispute_id=dispute_id,
        outcome=RulingOutcome.COMPROMISE,
        ruling="12 timer om ugen til behandlingen er afsluttet, derefter 15.",
        summary_for_provider="12 timer om ugen, derefter 15.",
    )
    async with social_db.acquire() as conn, conn.transaction():
        await protocol.rule_dispute(conn, ruling, SPECIALIST, date(2027, 3, 5), 5)
    shares = await social_db.fetch(
        "SELECT information, recipient, shared_by FROM audit.share_log WHERE citizen_ref = $1"
        " AND information <> 'dispute-position' ORDER BY chain_seq",
        subject,
    )
    assert [(row["information"], row["recipient"]) for row in shares] == [
        ("dispute-ruling", "employment"),
        ("dispute-ruling", "social"),
        ("decision-outcome-summary", "provider:aktivcenter-nord"),
    ]
    assert {row["shared_by"] for row in shares} == {SPECIALIST.name}
    assert await broken_link(social_db) is None


async def test_an_unopposed_outcome_is_logged_as_shared_with_the_provider(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    await informed(social_db, subject)
    assert await protocol.settle_deadlines(social_db, date(2027, 3, 9)) == 1
    shares = await social_db.fetch(
        "SELECT information, recipient FROM audit.share_log WHERE citizen_ref = $1", subject
    )
    assert [tuple(row.values()) for row in shares] == [
        ("decision-outcome-summary", "provider:aktivcenter-nord")
    ]


async def test_after_protection_the_service_role_may_only_insert_and_read(infra: Infra) -> None:
    url = infra.create_service_database("gw")
    role = urlsplit(url).username or ""
    pool = await create_pool(url)
    try:
        await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
        async with pool.acquire() as conn:
            assert (await protection_status(conn)).startswith("unprotected")
        admin = await admin_connect(infra.admin_dsn, urlsplit(url).path.lstrip("/"))
        try:
            assert await protect(admin, role) == f"{role}_audit"
            assert await protect(admin, role) == f"{role}_audit"  # again: nothing changes
        finally:
            await admin.close()
        async with pool.acquire() as conn:
            assert await protection_status(conn) == "ok"
            await conn.execute(
                "INSERT INTO audit.audit_log (method, path, status, outcome)"
                " VALUES ('GET', '/v1/x', 200, 'ok')"
            )
            assert await conn.fetchval("SELECT chain_seq FROM audit.audit_log") == 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DROP TABLE audit.audit_log")
    finally:
        await pool.close()


async def test_a_service_role_cannot_make_protect_run_its_code_or_keep_its_database(infra: Infra) -> None:
    """The service's role prepares a trap before protect: its database's search_path puts schema
    public first, where it shadows format() with a function that would make it a superuser when
    a superuser calls it. Protect runs on a pinned search_path and resolves nothing there; after
    it, the role no longer owns the database, so it can neither drop it nor set its parameters."""
    url = infra.create_service_database("gw")
    role = urlsplit(url).username or ""
    database = urlsplit(url).path.lstrip("/")
    pool = await create_pool(url)
    try:
        await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
        async with pool.acquire() as conn:
            await conn.execute(
                f"""
                CREATE FUNCTION public.format(text, VARIADIC text[]) RETURNS text
                LANGUAGE plpgsql AS $$
                BEGIN
                    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
                        EXECUTE 'ALTER ROLE "{role}" SUPERUSER';
                    END IF;
                    RETURN pg_catalog.format($1, VARIADIC $2);
                END $$;
                ALTER DATABASE "{database}" SET search_path = public, pg_catalog;
                """
            )
        admin = await admin_connect(infra.admin_dsn, database)
        try:
            await protect(admin, role)
            assert not await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
            owner = await admin.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", database
            )
            assert owner == f"{role}_audit"
        finally:
            await admin.close()
        async with pool.acquire() as conn:
            assert await protection_status(conn) == "ok"
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f'ALTER DATABASE "{database}" SET search_path = public')
            # The service still migrates and works in its own schema.
            await conn.execute("CREATE TABLE public.after_protection (id int)")
    finally:
        await pool.close()


def test_protect_refuses_a_database_whose_service_has_not_finished_migrating(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOCIAL_DATABASE_URL", infra.create_service_database("social"))
    assert cli.main(["audit", "protect", "social", "--admin-url", infra.admin_dsn]) == 2
    assert "has not applied" in capsys.readouterr().err


async def test_upgrading_chains_the_audit_rows_written_before(infra: Infra) -> None:
    pool = await create_pool(infra.create_database("gw"))
    try:
        # The gateway as it was before the chain: every migration but the audit-chain ones.
        earlier = [
            name
            for name in await pool_pending(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
            if not name.endswith("_audit_chain.sql")
        ]
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE schema_migration"
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for name in earlier:
                package, file = name.split("/")
                await conn.execute((resources.files(package) / file).read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migration (name) VALUES ($1)", name)
            await conn.execute(
                "INSERT INTO audit_log (client_id, method, path, status, outcome)"
                " SELECT 'client-' || n, 'GET', '/v1/referrals', 200, 'ok' FROM generate_series(1, 3) n"
            )
        assert await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations") == [
            "samspil.runtime.migrations/003_audit_chain.sql",
            "provider_gateway.migrations/007_audit_chain.sql",
        ]
        await pool.execute(
            "INSERT INTO audit.audit_log (method, path, status, outcome)"
            " VALUES ('GET', '/v1/feed', 200, 'ok')"
        )
        async with pool.acquire() as conn:
            [report] = await verify_chains(conn)
        assert (report.table, report.rows, report.broken) == ("audit.audit_log", 4, None)
    finally:
        await pool.close()


async def pool_pending(pool: asyncpg.Pool, *packages: str) -> list[str]:
    async with pool.acquire() as conn:
        return await pending_migrations(conn, *packages)
