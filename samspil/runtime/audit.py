"""The audit tables of a service database: who owns them, and whether their hash chains hold.

Every table in schema ``audit`` is append-only and hash-chained (runtime migrations
003_audit_chain.sql and 011_audit_chain_lanes.sql) in lanes, so that writers need not wait for
each other: each row carries ``chain_lane`` (0 for a table without the column), ``chain_seq``
(1, 2, 3, ... within its lane) and ``chain_hash`` = sha256(the lane's previous row's hash, or 64
zeros for its first, || the row's canonical text), where the canonical text is the row as jsonb
without ``chain_hash`` (and without ``chain_lane`` in lane 0, as the rows chained before lanes
were hashed), timestamps in UTC. ``verify_chains`` recomputes every link of every lane here, in
Python, so it trusts no function in the database it checks.

The service creates these tables as its own role when it migrates. ``protect`` is the privileged
step that makes them tamper-proof for that role: schema, tables, sequences and functions go to a
NOLOGIN owner role ``<service role>_audit``, and the service role keeps only USAGE on the schema
and INSERT and SELECT on the tables. It has to be run by a role that may change owners (a
superuser) once the service has migrated. Afterwards the service's own migrations can no longer
change schema ``audit``: a later migration that does must be applied by its owner or a superuser
(``migrate_protected``, as ``samspil audit migrate`` and the local stack do; the service, refused
one, stops at start with one line that says so).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from samspil.runtime.db import Connection, migration_lock, migration_text, pending_migrations

AUDIT_SCHEMA = "audit"
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class BrokenLink:
    table: str
    chain_seq: int
    row_id: object
    problem: str
    lane: int = 0

    def __str__(self) -> str:
        return (
            f"{self.table}: chain broken in lane {self.lane} at seq {self.chain_seq}"
            f" (row id {self.row_id}): {self.problem}"
        )


@dataclass(frozen=True)
class LaneHead:
    """One lane's chain that holds: its rows and its last link. Removing rows from a lane's end
    leaves a shorter chain that still holds, so an operator keeps these elsewhere and compares
    them with a later run."""

    lane: int
    rows: int
    seq: int
    hash: str


@dataclass(frozen=True)
class ChainReport:
    table: str
    rows: int
    broken: BrokenLink | None
    # Each lane's head, in lane order (of the lanes checked before a broken link).
    lanes: tuple[LaneHead, ...] = ()


async def log_share(
    conn: Connection,
    citizen_ref: str,
    information: str,
    recipient: str,
    basis: str,
    shared_by: str,
    event_id: uuid.UUID,
) -> None:
    """Log one share of information across a boundary ("who shared what with whom, on which
    basis, in which event") in the department's chained ``audit.share_log``, in the caller's
    transaction, so the share and its log row commit together."""
    await conn.execute(
        "INSERT INTO audit.share_log (citizen_ref, information, recipient, basis, shared_by, event_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        citizen_ref,
        information,
        recipient,
        basis,
        shared_by,
        event_id,
    )


async def log_shares(conn: Connection, shares: Sequence[tuple[str, str, str, str, str, uuid.UUID]]) -> None:
    """Log many shares as :func:`log_share` does, each a tuple (citizen reference, information,
    recipient, basis, shared by, event id), in one COPY (which needs only the INSERT privilege
    a protected table leaves); the chain trigger links them in the order given."""
    await conn.copy_records_to_table(
        "share_log",
        schema_name=AUDIT_SCHEMA,
        records=shares,
        columns=["citizen_ref", "information", "recipient", "basis", "shared_by", "event_id"],
    )


async def audit_tables(conn: Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        AUDIT_SCHEMA,
    )
    return [row["relname"] for row in rows]


async def unprotected_objects(conn: Connection, role: str | None = None) -> list[str]:
    """What in schema ``audit`` the role (by default the connected one) still owns or could
    change: the schema, tables, sequences, functions, or a privilege beyond INSERT and SELECT.
    Empty when the audit trail is protected from that role."""
    role = role or await conn.fetchval("SELECT current_user")
    found: list[str] = []
    if await conn.fetchval(
        "SELECT pg_catalog.pg_get_userbyid(datdba) = $1 FROM pg_catalog.pg_database"
        " WHERE datname = pg_catalog.current_database()",
        role,
    ):
        found.append("the database (its owner can drop it)")
    schema_owner = await conn.fetchval(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", AUDIT_SCHEMA
    )
    if schema_owner is None:
        return [f"schema {AUDIT_SCHEMA} (missing)"]
    if schema_owner == role or await conn.fetchval(
        "SELECT has_schema_privilege($1, $2, 'CREATE')", role, AUDIT_SCHEMA
    ):
        found.append(f"schema {AUDIT_SCHEMA}")
    rows = await conn.fetch(
        "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner,"
        " c.relkind IN ('r', 'p') AND (has_table_privilege($1, c.oid, 'UPDATE')"
        "  OR has_table_privilege($1, c.oid, 'DELETE') OR has_table_privilege($1, c.oid, 'TRUNCATE')"
        "  OR has_table_privilege($1, c.oid, 'TRIGGER')) AS may_change"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $2 AND c.relkind IN ('r', 'p', 'S') ORDER BY c.relname",
        role,
        AUDIT_SCHEMA,
    )
    found += [f"{AUDIT_SCHEMA}.{row['relname']}" for row in rows if row["owner"] == role or row["may_change"]]
    functions = await conn.fetch(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = $1 AND pg_get_userbyid(p.proowner) = $2 ORDER BY p.proname",
        AUDIT_SCHEMA,
        role,
    )
    found += [f"function {AUDIT_SCHEMA}.{row['proname']}" for row in functions]
    return found + await planted_objects(conn)


async def planted_objects(conn: Connection) -> list[str]:
    """What in schema ``audit`` no migration of ours makes and that could run code, or be dropped
    with the audit data, at another's hand: relations that are not tables, indexes or sequences;
    types of its own (domains, enums, ranges); anything in the schema (a column, an index
    expression, a default, a constraint, statistics, a trigger, a rule, a policy, a function)
    that uses a function, type, operator or relation of another schema but ``pg_catalog``;
    inheritance across the schema's border; row security; SECURITY DEFINER functions. The
    service's role may have made them while the schema was its own: `protect` would hand them to
    the audit owner (an index expression then runs as the owner whenever the table is analysed),
    and an owner's migration, run by a superuser, could fire them. Catalogue reads only."""
    rows = await conn.fetch(_PLANTED, AUDIT_SCHEMA)
    return [row["found"] for row in rows]


_PLANTED = """
WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
rel AS (SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)),
inside (classid, objid) AS (
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid FROM rel
    UNION ALL SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass, t.oid FROM pg_catalog.pg_trigger t
        WHERE t.tgrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid FROM pg_catalog.pg_constraint k
        WHERE k.conrelid IN (SELECT oid FROM rel) OR k.connamespace = (SELECT oid FROM ns)
    UNION ALL SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, d.oid FROM pg_catalog.pg_attrdef d
        WHERE d.adrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, x.oid
        FROM pg_catalog.pg_statistic_ext x
        WHERE x.stxrelid IN (SELECT oid FROM rel) OR x.stxnamespace = (SELECT oid FROM ns)
    UNION ALL SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, y.oid FROM pg_catalog.pg_policy y
        WHERE y.polrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, r.oid FROM pg_catalog.pg_rewrite r
        WHERE r.ev_class IN (SELECT oid FROM rel)
    UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = (SELECT oid FROM ns)
    UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid FROM pg_catalog.pg_type t
        WHERE t.typnamespace = (SELECT oid FROM ns)
)
SELECT 'relation ' || c.oid::pg_catalog.regclass::text AS found FROM pg_catalog.pg_class c
    WHERE c.oid IN (SELECT oid FROM rel) AND c.relkind NOT IN ('r', 'p', 'S', 'i', 'I', 't')
UNION ALL SELECT 'type ' || t.oid::pg_catalog.regtype::text FROM pg_catalog.pg_type t
    WHERE t.typnamespace = (SELECT oid FROM ns) AND t.typrelid = 0 AND t.typcategory <> 'A'
UNION ALL SELECT dependent.type || ' ' || dependent.identity || ' uses ' || referenced.type || ' '
        || referenced.identity
    FROM pg_catalog.pg_depend d JOIN inside i ON i.classid = d.classid AND i.objid = d.objid
    CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) AS dependent
    CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0) AS referenced
    WHERE d.deptype IN ('n', 'a') AND referenced.schema NOT IN ('pg_catalog', $1)
UNION ALL SELECT 'inheritance ' || h.inhrelid::pg_catalog.regclass::text || ' of '
        || h.inhparent::pg_catalog.regclass::text FROM pg_catalog.pg_inherits h
    WHERE (h.inhrelid IN (SELECT oid FROM rel)) <> (h.inhparent IN (SELECT oid FROM rel))
UNION ALL SELECT 'row security on ' || c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
    WHERE c.oid IN (SELECT oid FROM rel) AND (c.relrowsecurity OR EXISTS
        (SELECT 1 FROM pg_catalog.pg_policy y WHERE y.polrelid = c.oid))
UNION ALL SELECT 'rule ' || r.rulename || ' on ' || r.ev_class::pg_catalog.regclass::text
    FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
    WHERE c.oid IN (SELECT oid FROM rel) AND c.relkind IN ('r', 'p')
UNION ALL SELECT 'security definer function ' || p.oid::pg_catalog.regprocedure::text
    FROM pg_catalog.pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns) AND p.prosecdef
ORDER BY 1
"""


async def protection_status(conn: Connection) -> str:
    """For /readyz: "ok", or what the service's role could still edit or drop."""
    found = await unprotected_objects(conn)
    if not found:
        return "ok"
    return (
        f"unprotected: the service's own role can change {', '.join(found[:3])}"
        f"{' and more' if len(found) > 3 else ''}; run 'samspil audit protect'"
    )


# A superuser's session in a service's database must not resolve a name through anything the
# service's role made: the role may have set the database's search_path and put functions,
# operators or views in schema public. Pinned at connection start (which overrides any
# ALTER DATABASE/ROLE ... SET) and again before each privileged step.
PINNED_SETTINGS = {"search_path": "pg_catalog, pg_temp"}


async def admin_connect(url: str, database: str) -> Connection:
    """A privileged connection to a service's database, safe from objects its role created."""
    conn: Connection = await asyncpg.connect(url, database=database, server_settings=PINNED_SETTINGS)
    return conn


async def protect(conn: Connection, service_role: str) -> str:
    """Hand schema ``audit`` and everything in it, and the database itself, to
    ``<service_role>_audit`` (created NOLOGIN if missing), and leave the service role only
    USAGE, INSERT and SELECT in ``audit`` (and USAGE on its sequences), CONNECT and TEMPORARY on
    the database and its own schema ``public``: it can no longer drop or alter the database,
    set its parameters, or drop, edit or re-chain an audit row. Idempotent. Returns the owner
    role's name. ``conn`` must be a superuser's, from `admin_connect`."""
    owner = f"{service_role}_audit"
    database = await conn.fetchval("SELECT pg_catalog.current_database()")
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        planted = await planted_objects(conn)
        if planted:  # handed to the owner, they would run as the owner
            raise PlantedObjects(planted)
        if not await conn.fetchval("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", owner):
            await _execute(conn, "CREATE ROLE %I NOLOGIN", owner)
        if await conn.fetchval("SELECT pg_catalog.pg_has_role($1, $2, 'MEMBER')", service_role, owner):
            await _execute(conn, "REVOKE %I FROM %I", owner, service_role)
        # The database's owner may drop it or set its search_path for every session in it.
        await _execute(conn, "ALTER DATABASE %I OWNER TO %I", database, owner)
        await _execute(conn, "ALTER DATABASE %I RESET ALL", database)
        await _execute(conn, "GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I", database, service_role)
        await _execute(conn, "GRANT USAGE, CREATE ON SCHEMA public TO %I", service_role)
        if not await _protected(conn, service_role):
            # A note of what the owner applied (`applied_by_owner`) written while the schema was
            # the service role's own is not the owner's.
            await _execute(conn, "COMMENT ON SCHEMA %I IS NULL", AUDIT_SCHEMA)
        await _execute(conn, "ALTER SCHEMA %I OWNER TO %I", AUDIT_SCHEMA, owner)
        for table in await audit_tables(conn):
            # Sequences owned by a table's columns change owner with it.
            await _execute(conn, "ALTER TABLE %I.%I OWNER TO %I", AUDIT_SCHEMA, table, owner)
        for signature in await conn.fetch(
            "SELECT p.oid::regprocedure::text AS name FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1",
            AUDIT_SCHEMA,
        ):
            await _execute(conn, "ALTER ROUTINE %s OWNER TO %I", signature["name"], owner)
        for statement in (
            "REVOKE ALL ON SCHEMA %I FROM PUBLIC, %I",
            "GRANT USAGE ON SCHEMA %I TO %I",
            "REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC, %I",
            "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA %I TO %I",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM PUBLIC, %I",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I",
        ):
            await _execute(conn, statement, AUDIT_SCHEMA, service_role)
    return owner


# What the audit owner applied is written in the same transaction as the migration, so that a run
# of `migrate_protected` stopped between the owner's commit and the service's record of it (two
# sessions, two commits) is completed by the next, which records the name instead of applying it
# again. It is kept in the comment on schema ``audit``: only the schema's owner (or a superuser)
# may set it, and reading it runs nothing. A table would be read by the superuser's session, and
# one the service's role made before `protect` (handed to the owner with its triggers, rules and
# policies) would run that role's code there.
OWNER_NOTE = "Migrations applied by the audit owner (samspil audit migrate):"


async def apply_as_owner(conn: Connection, service_role: str, name: str, migration: str) -> str:
    """Apply one migration that changes schema ``audit`` of a protected database (one the
    service's role is refused) as the schema's owner ``<service_role>_audit``, in the caller's
    transaction, on the pinned search_path, and note ``name`` in the schema's comment in the
    same transaction. The migration may touch only what that owner owns. ``SET ROLE`` is no
    boundary for a superuser's session (code it runs may reset the role): what keeps the
    service's role out is that nothing it made is resolved or run here. Returns the owner's
    name. ``conn`` must be a superuser's, from `admin_connect`, in a transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("apply_as_owner runs in the caller's transaction (SET LOCAL)")
    owner = f"{service_role}_audit"
    await conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
    await _execute(conn, "SET LOCAL ROLE %I", owner)
    await conn.execute(migration)
    noted = sorted(await applied_by_owner(conn) | {name})
    await _execute(conn, "COMMENT ON SCHEMA %I IS %L", AUDIT_SCHEMA, "\n".join([OWNER_NOTE, *noted]))
    await conn.execute("RESET ROLE")
    return owner


async def applied_by_owner(conn: Connection) -> set[str]:
    """The migrations the audit owner noted in the comment on schema ``audit`` (`apply_as_owner`);
    `protect` clears a comment the service's role wrote while the schema was its own."""
    comment: str | None = await conn.fetchval(
        "SELECT pg_catalog.obj_description(n.oid, 'pg_namespace') FROM pg_catalog.pg_namespace n"
        " WHERE n.nspname = $1",
        AUDIT_SCHEMA,
    )
    lines = (comment or "").split("\n")
    return set(lines[1:]) if lines[0] == OWNER_NOTE else set()


class PlantedObjects(RuntimeError):
    """Schema ``audit`` holds what no migration of ours makes (`planted_objects`): no migration is
    applied as its owner until someone who knows why they are there removes them."""

    def __init__(self, found: list[str]) -> None:
        super().__init__(
            f"schema {AUDIT_SCHEMA} holds what no samspil migration makes, which would run or could"
            f" be dropped at another's hand once the audit owner has it: {'; '.join(found)}. Find out"
            " who made them and why, remove them as a superuser, then run this again"
        )


async def migrate_protected(
    as_service: Connection, admin: Connection, service_role: str, packages: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Apply the service's pending migrations in order as the service does when it starts, on
    ``as_service`` (its role's own connection), except those its role is refused on a protected
    database (they change schema ``audit``): those as the audit schema's owner
    (`apply_as_owner`) on ``admin`` (a superuser's, from `admin_connect`), and recorded on
    ``as_service``: a superuser must not touch the tables the service's role made. Then
    `protect` again, if the owner applied any or the database is protected (a run stopped before
    it is completed by the next). The owner's commit comes first and notes the name
    (`apply_as_owner`); a run stopped before the service's record of it followed is completed by
    the next, which records the name without applying it again. Returns the names applied by
    the service's role and by the owner (in this run or an earlier one). Any other failure
    raises."""
    by_service: list[str] = []
    by_owner: list[str] = []
    async with migration_lock(as_service):
        pending = await pending_migrations(as_service, *packages)
        protected = await _protected(admin, service_role)
        # Before `protect` the comment is the service role's to write: no owner's word.
        owner_applied = await applied_by_owner(admin) if pending and protected else set()
        for name in pending:
            if name in owner_applied:
                # The owner's commit of an earlier run whose record of it did not follow.
                async with as_service.transaction():
                    await as_service.execute("INSERT INTO schema_migration (name) VALUES ($1)", name)
                by_owner.append(name)
                continue
            migration = migration_text(name)
            try:
                async with as_service.transaction():
                    await as_service.execute(migration)
                    await as_service.execute("INSERT INTO schema_migration (name) VALUES ($1)", name)
                by_service.append(name)
                continue
            except asyncpg.InsufficientPrivilegeError:
                pass
            planted = await planted_objects(admin)
            if planted:
                raise PlantedObjects(planted)
            async with admin.transaction():
                await apply_as_owner(admin, service_role, name, migration)
            async with as_service.transaction():
                await as_service.execute("INSERT INTO schema_migration (name) VALUES ($1)", name)
            by_owner.append(name)
    if by_owner or protected:
        await protect(admin, service_role)  # what the migrations made is the owner's too
    return by_service, by_owner


async def _protected(conn: Connection, service_role: str) -> bool:
    owner: str | None = await conn.fetchval(
        "SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace WHERE nspname = $1",
        AUDIT_SCHEMA,
    )
    return owner == f"{service_role}_audit"


async def verify_chains(conn: Connection) -> list[ChainReport]:
    """Check every chained table in schema ``audit``; each report names its first broken link."""
    reports = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # The canonical text of a row holds its timestamps as the trigger wrote them: in UTC.
        # Names resolve in the catalogue only: no to_jsonb of the role's own making.
        await conn.execute("SET LOCAL TIME ZONE 'UTC'")
        await conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        for table in await audit_tables(conn):
            if not await _is_chained(conn, table):
                continue
            reports.append(await _verify_table(conn, table))
    return reports


async def _verify_table(conn: Connection, table: str) -> ChainReport:
    name = f"{AUDIT_SCHEMA}.{table}"
    columns = {
        row["column_name"]
        for row in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1"
            " AND table_name = $2 AND column_name IN ('id', 'chain_lane')",
            AUDIT_SCHEMA,
            table,
        )
    }
    id_column = "t.id" if "id" in columns else "NULL"
    if "chain_lane" in columns:
        lane_column = "t.chain_lane"
        # Lane 0's rows are hashed without chain_lane, as those chained before lanes were.
        canonical = (
            "CASE WHEN t.chain_lane = 0 THEN to_jsonb(t) - 'chain_hash' - 'chain_lane'"
            " ELSE to_jsonb(t) - 'chain_hash' END"
        )
    else:
        lane_column, canonical = "0", "to_jsonb(t) - 'chain_hash'"
    query = await conn.fetchval(
        "SELECT format('SELECT %s AS row_id, %s AS chain_lane, t.chain_seq, t.chain_hash,"
        " (%s)::text AS canonical FROM %I.%I t ORDER BY 2, t.chain_seq',"
        " $1::text, $2::text, $3::text, $4::text, $5::text)",
        id_column,
        lane_column,
        canonical,
        AUDIT_SCHEMA,
        table,
    )
    heads: list[LaneHead] = []
    lane: int | None = None
    previous, expected_seq, rows = GENESIS_HASH, 1, 0
    async for row in conn.cursor(query):
        rows += 1
        row_lane: int = row["chain_lane"]
        if row_lane != lane:
            if lane is not None:
                heads.append(LaneHead(lane, expected_seq - 1, expected_seq - 1, previous))
            lane, previous, expected_seq = row_lane, GENESIS_HASH, 1
        seq = row["chain_seq"]
        if seq != expected_seq:
            problem = (
                f"rows with seq {expected_seq}..{seq - 1} are missing (deleted)"
                if seq > expected_seq
                else f"seq {seq} appears twice or out of order"
            )
            return ChainReport(
                name, rows, BrokenLink(name, seq, row["row_id"], problem, row_lane), tuple(heads)
            )
        recomputed = hashlib.sha256((previous + row["canonical"]).encode()).hexdigest()
        if recomputed != row["chain_hash"]:
            problem = "the row's hash does not match its content, its lane and the previous row (edited)"
            return ChainReport(
                name, rows, BrokenLink(name, seq, row["row_id"], problem, row_lane), tuple(heads)
            )
        previous, expected_seq = row["chain_hash"], seq + 1
    if lane is not None:
        heads.append(LaneHead(lane, expected_seq - 1, expected_seq - 1, previous))
    return ChainReport(name, rows, None, tuple(heads))


async def _is_chained(conn: Connection, table: str) -> bool:
    columns = await conn.fetchval(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2"
        " AND column_name IN ('chain_seq', 'chain_hash')",
        AUDIT_SCHEMA,
        table,
    )
    return bool(columns == 2)


async def _execute(conn: Connection, template: str, *args: str) -> None:
    """Run a utility statement built by the server's format(), as these take no parameters."""
    statement = await conn.fetchval(
        "SELECT pg_catalog.format($1::text, VARIADIC $2::text[])", template, list(args)
    )
    await conn.execute(statement)
