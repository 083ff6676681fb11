"""The hash chain of the audit tables on the real PostgreSQL: rows chain in order also when
written concurrently and in another time zone, `verify_chains` names the first row edited or
missing, rows that existed before the chain are linked by the migration, and the specialist
unit's ruling and the text meant for the provider are logged as shared; after `protect` the
service's role may only insert and read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date
from importlib import resources
from urllib.parse import urlsplit

import asyncpg
import pytest

from provider_gateway.bootstrap import build_app
from provider_gateway.settings import GatewaySettings
from samspil import cli
from samspil.runtime.audit import (
    OWNER_NOTE,
    LaneHead,
    admin_connect,
    apply_as_owner,
    log_share,
    log_shares,
    protect,
    protection_status,
    unprotected_objects,
    verify_chains,
)
from samspil.runtime.db import Connection, create_pool, migrate, pending_migrations
from samspil.runtime.service import StartupProblem
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


async def test_concurrent_shares_form_one_unbroken_chain_a_lane(social_db: asyncpg.Pool) -> None:
    subject = citizen_ref()
    await asyncio.gather(*(share(social_db, subject) for _ in range(25)))
    lanes = await seqs_by_lane(social_db)
    assert sum(len(seqs) for seqs in lanes.values()) == 25
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in lanes.values())
    async with social_db.acquire() as conn:
        [report] = [r for r in await verify_chains(conn) if r.table == "audit.share_log"]
        heads = await conn.fetch(
            "SELECT DISTINCT ON (chain_lane) chain_lane, chain_seq, chain_hash FROM audit.share_log"
            " ORDER BY chain_lane, chain_seq DESC"
        )
    assert (report.rows, report.broken) == (25, None)
    assert [(head.lane, head.rows, head.seq, head.hash) for head in report.lanes] == [
        (row["chain_lane"], len(lanes[row["chain_lane"]]), row["chain_seq"], row["chain_hash"])
        for row in heads
    ]


async def seqs_by_lane(pool: asyncpg.Pool) -> dict[int, list[int]]:
    """Each lane's chain_seq values, in the order the rows were written."""
    lanes: dict[int, list[int]] = {}
    for row in await pool.fetch("SELECT chain_lane, chain_seq FROM audit.share_log ORDER BY id"):
        lanes.setdefault(row["chain_lane"], []).append(row["chain_seq"])
    return lanes


async def test_a_writer_does_not_wait_for_another_writers_commit(social_db: asyncpg.Pool) -> None:
    """With one lock a table held until commit (runtime migration 003), the second insert would
    wait for the first transaction and fail on the lock timeout; in lanes it takes a free one."""
    async with social_db.acquire() as first, social_db.acquire() as second:
        async with first.transaction():
            await log_share(first, citizen_ref(), "first", "employment", "basis", "Sam", uuid.uuid4())
            async with second.transaction():
                await second.execute("SET LOCAL lock_timeout = '2s'")
                await log_share(second, citizen_ref(), "second", "employment", "basis", "Sam", uuid.uuid4())
    rows = await social_db.fetch("SELECT information, chain_lane, chain_seq FROM audit.share_log ORDER BY id")
    assert [(row["information"], row["chain_seq"]) for row in rows] == [("first", 1), ("second", 1)]
    assert rows[0]["chain_lane"] != rows[1]["chain_lane"]
    assert await broken_link(social_db) is None


async def test_the_rows_of_one_transaction_follow_each_other_in_one_lane(social_db: asyncpg.Pool) -> None:
    async with social_db.acquire() as one, social_db.acquire() as other:
        async with one.transaction(), other.transaction():
            for n in range(3):  # the two transactions' rows interleave in time
                await log_share(one, citizen_ref(), f"one-{n}", "employment", "basis", "Sam", uuid.uuid4())
                await log_share(
                    other, citizen_ref(), f"other-{n}", "employment", "basis", "Sam", uuid.uuid4()
                )
            await log_shares(
                one,
                [
                    (citizen_ref(), f"one-copy-{n}", "employment", "basis", "Sam", uuid.uuid4())
                    for n in range(3)
                ],
            )
    rows = await social_db.fetch("SELECT information, chain_lane, chain_seq FROM audit.share_log ORDER BY id")
    ones = [row for row in rows if row["information"].startswith("one-")]
    others = [row for row in rows if row["information"].startswith("other-")]
    assert [row["information"] for row in ones] == [f"one-{n}" for n in range(3)] + [
        f"one-copy-{n}" for n in range(3)
    ]
    assert [(row["chain_lane"], row["chain_seq"]) for row in ones] == [
        (ones[0]["chain_lane"], n) for n in range(1, 7)
    ]
    assert [(row["chain_lane"], row["chain_seq"]) for row in others] == [
        (others[0]["chain_lane"], n) for n in range(1, 4)
    ]
    assert ones[0]["chain_lane"] != others[0]["chain_lane"]
    assert await broken_link(social_db) is None


async def test_many_concurrent_writers_end_with_every_lane_holding(social_db: asyncpg.Pool) -> None:
    async def writer() -> None:
        async with social_db.acquire() as conn:
            for _ in range(50):
                async with conn.transaction():
                    for information in ("plan", "summary"):
                        await log_share(
                            conn, citizen_ref(), information, "employment", "b", "Sam", uuid.uuid4()
                        )

    await asyncio.gather(*(writer() for _ in range(8)))
    async with social_db.acquire() as conn:
        [report] = [r for r in await verify_chains(conn) if r.table == "audit.share_log"]
    assert (report.rows, report.broken) == (800, None)
    assert sum(head.rows for head in report.lanes) == 800
    assert await social_db.fetchval("SELECT count(*) FROM audit.share_log") == 800


# The transaction-level lock of a lane of audit.share_log, as the chain trigger takes it
# (runtime migration 011_audit_chain_lanes.sql: key 7310100 + lane, hashtext of the table).
LANE_LOCK = "SELECT pg_advisory_xact_lock(7310100 + $1, hashtext('audit.share_log'))"


async def tamper(pool: asyncpg.Pool, statement: str, *args: object) -> None:
    """As someone who may switch the guards off would (the database owner here): change rows and
    keep their chain_seq, chain_lane and chain_hash as given."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit.share_log DISABLE TRIGGER USER")
        await conn.execute(statement, *args)
        await conn.execute("ALTER TABLE audit.share_log ENABLE TRIGGER USER")


async def test_verify_names_the_row_edited_deleted_or_moved_in_a_lane_above_0(
    social_db: asyncpg.Pool,
) -> None:
    async with social_db.acquire() as holder, social_db.acquire() as writer:
        async with holder.transaction():
            await holder.execute(LANE_LOCK, 0)  # as a writer in lane 0 would: this one takes another
            for _ in range(4):
                async with writer.transaction():
                    await log_share(writer, citizen_ref(), "plan", "employment", "basis", "Sam", uuid.uuid4())
    [lane] = await seqs_by_lane(social_db)
    assert lane > 0
    second = await social_db.fetchrow(
        "SELECT * FROM audit.share_log WHERE chain_lane = $1 AND chain_seq = 2", lane
    )
    assert second is not None

    await tamper(social_db, "UPDATE audit.share_log SET recipient = 'nobody' WHERE id = $1", second["id"])
    edited = await broken_link(social_db)
    assert (
        edited is not None
        and f"lane {lane} at seq 2 (row id {second['id']})" in edited
        and "edited" in edited
    )
    await tamper(
        social_db,
        "UPDATE audit.share_log SET recipient = $2 WHERE id = $1",
        second["id"],
        second["recipient"],
    )
    assert await broken_link(social_db) is None

    await tamper(social_db, "DELETE FROM audit.share_log WHERE id = $1", second["id"])
    deleted = await broken_link(social_db)
    assert deleted is not None and f"lane {lane} at seq 3 " in deleted and "2..2 are missing" in deleted
    columns = list(second.keys())
    await tamper(
        social_db,
        f"INSERT INTO audit.share_log ({', '.join(columns)})"
        f" VALUES ({', '.join(f'${n}' for n in range(1, len(columns) + 1))})",
        *second.values(),
    )
    assert await broken_link(social_db) is None

    # The whole lane moved to an empty one: every link to the row before still holds, but the
    # lane is part of what each row's hash covers (left out in lane 0, where no row had it).
    for elsewhere in (lane % 15 + 1, 0):
        await tamper(social_db, "UPDATE audit.share_log SET chain_lane = $1", elsewhere)
        moved = await broken_link(social_db)
        assert moved is not None and f"lane {elsewhere} at seq 1 " in moved and "edited" in moved
        await tamper(social_db, "UPDATE audit.share_log SET chain_lane = $1", lane)
        assert await broken_link(social_db) is None


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


@pytest.mark.parametrize(
    "lanes", ["", ", chain_lane smallint NOT NULL DEFAULT 0"], ids=["one chain", "lanes"]
)
async def test_rows_from_before_the_chain_are_linked_by_the_migration(
    social_db: asyncpg.Pool, lanes: str
) -> None:
    async with social_db.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TABLE audit.earlier (id bigserial PRIMARY KEY, what text NOT NULL,"
            f" at timestamptz NOT NULL DEFAULT now(), chain_seq bigint, chain_hash text{lanes})"
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
        " AND information <> 'dispute-position' ORDER BY id",
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
        await apply_by_hand(
            pool,
            GATEWAY_MIGRATIONS,
            lambda name: not name.endswith(("_audit_chain.sql", "_audit_chain_lanes.sql")),
        )
        await pool.execute(
            "INSERT INTO audit_log (client_id, method, path, status, outcome)"
            " SELECT 'client-' || n, 'GET', '/v1/referrals', 200, 'ok' FROM generate_series(1, 3) n"
        )
        assert await migrate(pool, *GATEWAY_MIGRATIONS) == [
            "samspil.runtime.migrations/003_audit_chain.sql",
            "samspil.runtime.migrations/011_audit_chain_lanes.sql",
            "provider_gateway.migrations/007_audit_chain.sql",
            "provider_gateway.migrations/020_audit_chain_lanes.sql",
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


GATEWAY_MIGRATIONS = ("samspil.runtime.migrations", "provider_gateway.migrations")
SOCIAL_MIGRATIONS = ("samspil.runtime.migrations", "social.migrations")


async def apply_by_hand(pool: asyncpg.Pool, packages: Sequence[str], chosen: Callable[[str], bool]) -> None:
    """Apply the chosen ones of the packages' migrations, in order, as `migrate` would: the
    database as it was before the others."""
    async with pool.acquire() as conn:
        names = [name for name in await pending_migrations(conn, *packages) if chosen(name)]
        await conn.execute(
            "CREATE TABLE schema_migration"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for name in names:
            package, file = name.split("/")
            await conn.execute((resources.files(package) / file).read_text(encoding="utf-8"))
            await conn.execute("INSERT INTO schema_migration (name) VALUES ($1)", name)


@asynccontextmanager
async def administering(infra: Infra, database: str) -> AsyncIterator[Connection]:
    """A superuser's session in the service's database, as `samspil audit` opens it."""
    admin = await admin_connect(infra.admin_dsn, database)
    try:
        yield admin
    finally:
        await admin.close()


def before_lanes(name: str) -> bool:
    return not name.endswith("_audit_chain_lanes.sql")


async def test_rows_chained_before_lanes_still_verify_and_lane_0_continues_their_chain(infra: Infra) -> None:
    pool = await create_pool(infra.create_database("social"))
    try:
        await apply_by_hand(pool, SOCIAL_MIGRATIONS, before_lanes)
        for n in range(3):
            await share(pool, citizen_ref(), f"before-{n}")
        async with pool.acquire() as conn:
            [before] = await verify_chains(conn)
        assert (before.rows, before.broken, [(head.lane, head.seq) for head in before.lanes]) == (
            3,
            None,
            [(0, 3)],
        )

        assert await migrate(pool, *SOCIAL_MIGRATIONS) == [
            "samspil.runtime.migrations/011_audit_chain_lanes.sql",
            "social.migrations/012_audit_chain_lanes.sql",
        ]
        async with pool.acquire() as conn:
            [after] = await verify_chains(conn)
        assert (after.rows, after.broken, after.lanes) == (3, None, before.lanes)

        # Lanes 1 to 15 taken by writers: the next one continues the old chain in lane 0.
        async with pool.acquire() as holder, pool.acquire() as writer:
            async with holder.transaction():
                for lane in range(1, 16):
                    await holder.execute(LANE_LOCK, lane)
                await log_share(writer, citizen_ref(), "after", "employment", "basis", "Sam", uuid.uuid4())
        async with pool.acquire() as conn:
            [report] = await verify_chains(conn)
            last = await conn.fetchrow(
                "SELECT chain_lane, chain_seq, chain_hash FROM audit.share_log ORDER BY id DESC"
            )
        assert last is not None and (last["chain_lane"], last["chain_seq"]) == (0, 4)
        assert (report.rows, report.broken, report.lanes) == (
            4,
            None,
            (LaneHead(0, 4, 4, last["chain_hash"]),),
        )
    finally:
        await pool.close()


AUDIT_ROW = "INSERT INTO audit.audit_log (method, path, status, outcome) VALUES ('GET', '/v1/x', 200, 'ok')"


def test_a_protected_database_refuses_the_lanes_migration_until_the_audit_owner_applies_it(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `samspil audit protect` the service's role may not change schema audit: its start
    fails with one line that says how the migration is applied; `samspil audit migrate` applies
    it as the audit owner, and the service then starts with its audit trail still protected."""
    url = infra.create_service_database("gw")
    role, database = urlsplit(url).username or "", urlsplit(url).path.lstrip("/")
    monkeypatch.setenv("PROVIDER_GATEWAY_DATABASE_URL", url)

    async def protected_before_lanes() -> str:
        pool = await create_pool(url)
        try:
            await apply_by_hand(pool, GATEWAY_MIGRATIONS, before_lanes)
            await pool.execute(AUDIT_ROW)
            async with administering(infra, database) as admin:
                await protect(admin, role)
        finally:
            await pool.close()
        # The gateway's start, as far as its database (it stops before the broker).
        settings = GatewaySettings(database_url=url, token_secret="t" * 48, dead_letter_key="d" * 32)
        with pytest.raises(StartupProblem) as refused:
            await build_app(settings).state.runtime.start()
        return str(refused.value)

    said = asyncio.run(protected_before_lanes())
    assert "\n" not in said and said.startswith(
        "provider-gateway: migration samspil.runtime.migrations/011_audit_chain_lanes.sql is refused to"
        " the service's role"
    )
    assert f"belongs to {role}_audit since 'samspil audit protect'" in said
    assert "'samspil audit migrate provider-gateway'" in said

    assert cli.main(["audit", "migrate", "provider-gateway", "--admin-url", infra.admin_dsn]) == 0
    assert capsys.readouterr().out == (
        f"Applied as {role}_audit: samspil.runtime.migrations/011_audit_chain_lanes.sql,"
        f" provider_gateway.migrations/020_audit_chain_lanes.sql; as {role}: 0 migration(s)."
        " provider-gateway may start.\n"
    )
    assert cli.main(["audit", "migrate", "provider-gateway", "--admin-url", infra.admin_dsn]) == 0
    assert capsys.readouterr().out.startswith(f"Applied as {role}_audit: none; as {role}: 0 migration(s).")

    async def started() -> None:
        pool = await create_pool(url)
        try:
            assert await migrate(pool, *GATEWAY_MIGRATIONS) == []
            await pool.execute(AUDIT_ROW)
            async with pool.acquire() as conn:
                assert await protection_status(conn) == "ok"
                owners = await conn.fetch(
                    "SELECT DISTINCT pg_get_userbyid(p.proowner) AS owner FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'audit'"
                )
                [report] = await verify_chains(conn)
            assert [row["owner"] for row in owners] == [f"{role}_audit"]
            assert (report.rows, report.broken) == (2, None)
        finally:
            await pool.close()

    asyncio.run(started())


def test_an_audit_migrate_stopped_between_the_owners_commit_and_the_services_record_is_completed_by_the_next(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner applies a migration and the service's role records it: two sessions, two commits.
    A run stopped between them (here: the owner's step taken alone) must not leave a migration
    applied but pending, which the next run would apply again and fail on ("already exists").
    What the owner applied is the owner's word only: a note the service's role wrote before
    `protect` does not make a migration look applied, and after it the role cannot write one."""
    url = infra.create_service_database("gw")
    role, database = urlsplit(url).username or "", urlsplit(url).path.lstrip("/")
    monkeypatch.setenv("PROVIDER_GATEWAY_DATABASE_URL", url)
    first = "samspil.runtime.migrations/011_audit_chain_lanes.sql"
    forge = (
        f"COMMENT ON SCHEMA audit IS '{OWNER_NOTE}\nprovider_gateway.migrations/020_audit_chain_lanes.sql'"
    )

    async def stopped_after_the_owners_commit() -> None:
        pool = await create_pool(url)
        try:
            await apply_by_hand(pool, GATEWAY_MIGRATIONS, before_lanes)
            await pool.execute(AUDIT_ROW)
            # While the schema is its own, the service's role claims the owner applied the second.
            await pool.execute(forge)
            async with administering(infra, database) as admin:
                await protect(admin, role)
                package, file = first.split("/")
                async with admin.transaction():
                    await apply_as_owner(
                        admin, role, first, (resources.files(package) / file).read_text(encoding="utf-8")
                    )
            assert first in await pool_pending(pool, *GATEWAY_MIGRATIONS)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # only the owner says what it applied
                await pool.execute(forge)
        finally:
            await pool.close()

    asyncio.run(stopped_after_the_owners_commit())
    assert cli.main(["audit", "migrate", "provider-gateway", "--admin-url", infra.admin_dsn]) == 0, (
        capsys.readouterr().err
    )
    assert capsys.readouterr().out == (
        f"Applied as {role}_audit: {first}, provider_gateway.migrations/020_audit_chain_lanes.sql;"
        f" as {role}: 0 migration(s). provider-gateway may start.\n"
    )

    async def started() -> None:
        pool = await create_pool(url)
        try:
            assert await pool_pending(pool, *GATEWAY_MIGRATIONS) == []
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # also after `protect` again
                await pool.execute(forge)
            # The second was applied, not only recorded: the gateway's audit rows are in lanes.
            assert await pool.fetchval(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'audit'"
                " AND table_name = 'audit_log' AND column_name = 'chain_lane'"
            )
            await pool.execute(AUDIT_ROW)
            async with pool.acquire() as conn:
                assert await protection_status(conn) == "ok"
                [report] = await verify_chains(conn)
            assert (report.rows, report.broken) == (2, None)
        finally:
            await pool.close()

    asyncio.run(started())


PLANTS = {
    # DROP DOMAIN public.h CASCADE would take the column, and the audit data in it, along.
    "ALTER TABLE audit.audit_log ALTER COLUMN outcome TYPE public.h": (
        "table column audit.audit_log.outcome uses type public.h"
    ),
    "CREATE VIEW audit.recent AS SELECT * FROM audit.audit_log": "relation audit.recent",
    "CREATE FUNCTION audit.helper(q text) RETURNS void SECURITY DEFINER LANGUAGE plpgsql"
    " AS 'BEGIN EXECUTE q; END'": "security definer function audit.helper(text)",
    "CREATE TRIGGER watch BEFORE UPDATE ON audit.audit_log FOR EACH ROW EXECUTE FUNCTION public.watch()": (
        "trigger watch on audit.audit_log uses function public.watch()"
    ),
    "CREATE RULE quiet AS ON DELETE TO audit.audit_log DO INSTEAD NOTHING": "rule quiet on audit.audit_log",
    "ALTER TABLE audit.audit_log ENABLE ROW LEVEL SECURITY": "row security on audit.audit_log",
    # Run as the table's owner whenever autovacuum analyses it, once `protect` made that the audit owner.
    "CREATE INDEX by_path ON audit.audit_log (public.same(path))": (
        "index audit.by_path uses function public.same(pg_catalog.text)"
    ),
}


def test_what_the_service_role_planted_in_audit_before_protect_is_named_and_never_handed_to_the_owner(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """While schema audit was its own, the service's role could leave there what would run its
    code as whoever owns, reads or changes the schema later (`protect` hands everything in it to
    the audit owner, and a superuser applies the owner's migrations), or what it could drop with
    the audit data. `samspil audit protect` names each and hands nothing over."""
    url = infra.create_service_database("gw")
    role = urlsplit(url).username or ""
    monkeypatch.setenv("PROVIDER_GATEWAY_DATABASE_URL", url)

    async def planted() -> list[str]:
        pool = await create_pool(url)
        try:
            await migrate(pool, *GATEWAY_MIGRATIONS)
            await pool.execute(
                "CREATE FUNCTION public.watch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
                " CREATE FUNCTION public.same(text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT $1';"
                " CREATE DOMAIN public.h AS text"
            )
            for statement in PLANTS:
                await pool.execute(statement)
            async with pool.acquire() as conn:
                return await unprotected_objects(conn)
        finally:
            await pool.close()

    assert set(asyncio.run(planted())) >= set(PLANTS.values())
    assert cli.main(["audit", "protect", "provider-gateway", "--admin-url", infra.admin_dsn]) == 1
    said = capsys.readouterr().err
    assert said.startswith("Not protected: schema audit holds what no samspil migration makes")
    assert all(found in said for found in PLANTS.values()), said

    async def schema_owner() -> str:
        pool = await create_pool(url)
        try:
            owner: str = await pool.fetchval(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'audit'"
            )
            return owner
        finally:
            await pool.close()

    assert asyncio.run(schema_owner()) == role  # nothing was handed over


def test_an_owners_migration_is_not_applied_while_schema_audit_holds_what_no_migration_makes(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `protect` the service's role can plant nothing there; whoever else did (here the
    superuser, standing in for them), `samspil audit migrate` runs no migration as the owner."""
    url = infra.create_service_database("gw")
    role, database = urlsplit(url).username or "", urlsplit(url).path.lstrip("/")
    monkeypatch.setenv("PROVIDER_GATEWAY_DATABASE_URL", url)

    async def protected_then_planted() -> None:
        pool = await create_pool(url)
        try:
            await apply_by_hand(pool, GATEWAY_MIGRATIONS, before_lanes)
            async with administering(infra, database) as admin:
                await protect(admin, role)
                await admin.execute(
                    "CREATE FUNCTION public.watch() RETURNS trigger LANGUAGE plpgsql"
                    " AS 'BEGIN RETURN NEW; END';"
                    " CREATE TRIGGER watch BEFORE UPDATE ON audit.audit_log FOR EACH ROW"
                    " EXECUTE FUNCTION public.watch()"
                )
        finally:
            await pool.close()

    asyncio.run(protected_then_planted())
    assert cli.main(["audit", "migrate", "provider-gateway", "--admin-url", infra.admin_dsn]) == 1
    said = capsys.readouterr().err
    assert said.startswith(f"Not applied as {role}_audit: schema audit holds what no samspil migration makes")
    assert "trigger watch on audit.audit_log uses function public.watch()" in said

    async def still_pending() -> list[str]:
        pool = await create_pool(url)
        try:
            return await pool_pending(pool, *GATEWAY_MIGRATIONS)
        finally:
            await pool.close()

    assert asyncio.run(still_pending()) == [
        "samspil.runtime.migrations/011_audit_chain_lanes.sql",
        "provider_gateway.migrations/020_audit_chain_lanes.sql",
    ]


async def test_the_local_stack_applies_the_lanes_migration_as_the_owner_of_its_protected_audit_schema(
    infra: Infra,
) -> None:
    """`samspil up` on a state folder of before: the embedded PostgreSQL's superuser applies the
    migrations the service's role is refused before the service starts (LocalStack)."""
    if infra.postgres is None:
        pytest.skip("the local stack's own PostgreSQL only")
    url = infra.create_service_database("social")
    name = urlsplit(url).path.lstrip("/")
    pool = await create_pool(url)
    try:
        await apply_by_hand(pool, SOCIAL_MIGRATIONS, before_lanes)
        await share(pool, citizen_ref())
        infra.postgres.protect_audit_tables(name)
        assert infra.postgres.apply_audit_migrations(name, url, SOCIAL_MIGRATIONS) == [
            "samspil.runtime.migrations/011_audit_chain_lanes.sql",
            "social.migrations/012_audit_chain_lanes.sql",
        ]
        assert infra.postgres.apply_audit_migrations(name, url, SOCIAL_MIGRATIONS) == []
        assert await migrate(pool, *SOCIAL_MIGRATIONS) == []
        await share(pool, citizen_ref())
        async with pool.acquire() as conn:
            assert await protection_status(conn) == "ok"
            [report] = await verify_chains(conn)
        assert (report.rows, report.broken) == (2, None)
    finally:
        await pool.close()


async def pool_pending(pool: asyncpg.Pool, *packages: str) -> list[str]:
    async with pool.acquire() as conn:
        return await pending_migrations(conn, *packages)


async def test_a_service_role_that_picks_its_own_lane_neither_forks_a_lane_nor_escapes_the_chain(
    infra: Infra,
) -> None:
    """After protect, the service's role sets the trigger's transaction-local lane setting
    itself: into a lane another open transaction holds (without its lock), and into lanes the
    trigger never picks. Its row either follows the holder's or fails on the lane's unique
    sequence; no lane forks, and every row it wrote is chained and verified in its lane."""
    url = infra.create_service_database("gw")
    role = urlsplit(url).username or ""
    pool = await create_pool(url, min_size=2, max_size=3)
    insert = "INSERT INTO audit.audit_log (method, path, status, outcome) VALUES ('GET', '/v1/x', 200, 'ok')"
    try:
        await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
        admin = await admin_connect(infra.admin_dsn, urlsplit(url).path.lstrip("/"))
        try:
            await protect(admin, role)
        finally:
            await admin.close()
        setting = "samspil.audit_lane_" + str(await pool.fetchval("SELECT 'audit.audit_log'::regclass::oid"))
        await pool.execute(insert)
        async with pool.acquire() as holder, pool.acquire() as forger:
            holding = holder.transaction()
            await holding.start()
            lane = await holder.fetchval(insert + " RETURNING chain_lane")

            async def forge() -> str:
                try:
                    async with forger.transaction():
                        await forger.execute("SELECT set_config($1, $2, true)", setting, str(lane))
                        await forger.execute(insert)
                except asyncpg.UniqueViolationError:
                    return "refused"
                return "followed"

            forging = asyncio.create_task(forge())
            await asyncio.sleep(0)
            await holding.commit()
            assert await forging in ("refused", "followed")
            for forged_lane in ("99", "-1"):
                async with forger.transaction():
                    await forger.execute("SELECT set_config($1, $2, true)", setting, forged_lane)
                    await forger.execute(insert)
        async with pool.acquire() as conn:
            [report] = [r for r in await verify_chains(conn) if r.table == "audit.audit_log"]
            assert report.broken is None
            assert {99, -1} <= {head.lane for head in report.lanes}
            assert sum(head.rows for head in report.lanes) == report.rows
            forks = await conn.fetchval(
                "SELECT count(*) FROM (SELECT 1 FROM audit.audit_log GROUP BY chain_lane, chain_seq"
                " HAVING count(*) > 1) f"
            )
            assert forks == 0
    finally:
        await pool.close()
