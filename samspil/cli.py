"""The ``samspil`` command line: run everything locally, reset it, manage provider
credentials and dead letters, print caseworker tokens for the local stack."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shlex
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import asyncpg

from samspil.local.embedded import missing_for, not_installed_message
from samspil.local.runner import REPLICATED, SERVICES, LocalStack, spec_of
from samspil.local.supervisor import Supervisor
from samspil.runtime.auth import (
    DEFAULT_MAX_LIFETIME_SECONDS,
    DEPARTMENT_AUDIENCES,
    DEPARTMENT_OF_ROLE,
    Role,
    issue_local_token,
)
from samspil.runtime.db import Connection, database_tls_problem, pending_migrations
from samspil.runtime.deadletters import DEFAULT_PAGE
from samspil.runtime.http import Problem
from schemas.cpr import contains_cpr

if TYPE_CHECKING:
    from employment.enrolment_settings import EnrolmentSettings

# Each topic has 6 partitions: a seventh consumer in a group would be given none.
MAX_REPLICAS = 6


class CommandError(Exception):
    """What the command line says in one line on stderr (exit code 1) instead of a traceback."""


def _up(args: argparse.Namespace) -> int:
    missing = missing_for(os.environ, [f"{spec.env_prefix}DATABASE_URL" for spec in SERVICES])
    if missing:
        raise CommandError(not_installed_message(missing))
    stack = LocalStack.from_env(args.state_dir)
    stack.replicas = args.replicas
    started = time.monotonic()
    stopping = False

    def request_stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
        signal.signal(signum, request_stop)
    pid_file = args.state_dir / "samspil.pid"
    if _running_pid(pid_file) is not None:
        print(
            f"Samspil is already running from {args.state_dir}; stop it with 'samspil stop'.", file=sys.stderr
        )
        return 1
    args.state_dir.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(os.getpid()))
    try:
        print("Starting Samspil: broker, databases and services ...", flush=True)
        stack.start(
            timeout=60,
            cancelled=lambda: stopping,
            on_ready=lambda name: print(
                f"  {name} is ready ({_replica(stack, name)}{time.monotonic() - started:.1f} s)", flush=True
            ),
        )
        print(f"\nSamspil is ready after {time.monotonic() - started:.1f} s.\n")
        print(f"  Provider gateway API docs  {stack.url('provider-gateway')}/docs")
        print(f"  Provider portal            {stack.url('provider-gateway')}/portal/")
        print("    (add a person: samspil provider user add PROVIDER EMAIL)")
        for name in stack.all_instances():
            print(f"  {name + ' health':<26} {stack.url(name)}/readyz")
        for name in stack.all_instances():
            print(f"  {name + ' metrics':<26} {stack.metrics_url(name)}")
        print(f"  Kafka bootstrap servers    {stack.bootstrap_servers}")
        print(f"  Logs                       {stack.logs}/")
        print("\nPress Ctrl-C to stop.", flush=True)
        supervisor = Supervisor(stack, report=_print_timed)
        while not stopping:
            supervisor.supervise_once()
            time.sleep(0.5)
        return 0
    except RuntimeError as error:
        print(f"\nCould not start: {error}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping: gateway, then department services, then broker and database ...", flush=True)
        stack.stop()
        pid_file.unlink(missing_ok=True)
        print("Stopped.", flush=True)


def _replica(stack: LocalStack, name: str) -> str:
    """ "replica 2 of 3, " for an instance of a replicated service; "" when it runs alone."""
    instances = stack.instances(spec_of(name).name)
    return f"replica {instances.index(name) + 1} of {len(instances)}, " if len(instances) > 1 else ""


def _replicas(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_REPLICAS:
        raise argparse.ArgumentTypeError(f"give a whole number from 1 to {MAX_REPLICAS}")
    return count


def _print_timed(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def _running_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _stop(args: argparse.Namespace) -> int:
    """Stop a 'samspil up' running in another terminal (or one whose terminal is gone)."""
    pid = _running_pid(args.state_dir / "samspil.pid")
    if pid is None:
        print("Samspil is not running.")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 90
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if Path(f"/proc/{pid}").exists():
        print(f"Samspil (pid {pid}) did not stop within 90 s.", file=sys.stderr)
        return 1
    print("Stopped.")
    return 0


def _reset(args: argparse.Namespace) -> int:
    state: Path = args.state_dir
    pid_file = state / "pgdata" / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        if Path(f"/proc/{pid}").exists():
            print(
                "Samspil seems to be running (PostgreSQL is up); stop it first: samspil stop", file=sys.stderr
            )
            return 1
    if state.exists():
        shutil.rmtree(state)
        print(f"Removed {state}.")
    else:
        print(f"Nothing to remove at {state}.")
    return 0


def database_url(state_dir: Path, service: str) -> str:
    """The service's database URL: from its environment variable, else the local runner's."""
    spec = next(s for s in SERVICES if s.name == service)
    given = os.environ.get(f"{spec.env_prefix}DATABASE_URL")
    if given:
        return given
    try:
        passwords = json.loads((state_dir / "pg-passwords.json").read_text())
        password = passwords[spec.database]
    except (OSError, ValueError, KeyError, TypeError):
        raise CommandError(
            f"no local state for {service} in {state_dir} and {spec.env_prefix}DATABASE_URL is not set:"
            " run 'samspil up' first (with the same --state-dir), or set the database URL"
        ) from None
    port = int(os.environ.get("SAMSPIL_POSTGRES_PORT", "15432"))
    return f"postgresql://{spec.database}:{password}@127.0.0.1:{port}/{spec.database}"


@contextmanager
def _connection_failure_said(url: str, what: str, variable: str = "the database URL") -> Iterator[None]:
    """A failed connection as one line that names the host, never the URL (it holds a password);
    a TLS failure says which part of ``variable`` to check."""
    try:
        yield
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        parts = urlsplit(url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        reason = (
            database_tls_problem(error, variable, url) or " ".join(str(error).split()) or type(error).__name__
        )
        raise CommandError(f"cannot connect to the {what} database at {where}: {reason}") from None


async def _connect(url: str, service: str) -> Connection:
    spec = next(s for s in SERVICES if s.name == service)
    with _connection_failure_said(url, service, f"{spec.env_prefix}DATABASE_URL"):
        conn: Connection = await asyncpg.connect(url)
    return conn


def _with_db(state_dir: Path, service: str, work: Callable[[Connection], Awaitable[int]]) -> int:
    async def run() -> int:
        conn = await _connect(database_url(state_dir, service), service)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def _provider(args: argparse.Namespace) -> int:
    from provider_gateway import admin

    async def work(conn: Connection) -> int:
        if args.action == "add":
            client_id, secret = await admin.add_provider(conn, args.name)
            print(f"client_id:     {client_id}\nclient_secret: {secret}\n(The secret is shown only now.)")
            return 0
        if args.action == "rotate":
            new_secret = await admin.rotate_secret(conn, args.name)
            if new_secret is None:
                print("No active client with that id.", file=sys.stderr)
                return 1
            print(f"client_secret: {new_secret}")
            print("(The secret is shown only now. Tokens issued before no longer work.)")
            return 0
        if not await admin.disable_client(conn, args.name):
            print("No active client with that id.", file=sys.stderr)
            return 1
        print("Disabled. Its tokens no longer work.")
        return 0

    return _with_db(args.state_dir, "provider-gateway", work)


def _portal_user(args: argparse.Namespace) -> int:
    from provider_gateway.portal import people

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")

    async def work(conn: Connection) -> int:
        try:
            chosen = await people.add_person(conn, args.provider, args.email, args.name, password)
        except ValueError as refused:
            print(str(refused), file=sys.stderr)
            return 1
        print(f"{args.email} can log in to the provider portal for {args.provider}.")
        if password is None:
            print(f"password: {chosen}\n(The password is shown only now.)")
        return 0

    return _with_db(args.state_dir, "provider-gateway", work)


def _portal_user_access(args: argparse.Namespace) -> int:
    from provider_gateway.adapters import portal_people

    disabled = args.user_action == "disable"

    async def work(conn: Connection) -> int:
        async with conn.transaction():
            found = await portal_people.set_disabled(conn, args.provider, args.email, disabled)
        if not found:
            print(f"No person of {args.provider} logs in as {args.email}.", file=sys.stderr)
            return 1
        if disabled:
            print(f"{args.email} can no longer log in to the provider portal; their sessions have ended.")
        else:
            print(f"{args.email} can log in to the provider portal for {args.provider} again.")
        return 0

    return _with_db(args.state_dir, "provider-gateway", work)


def _portal_user_list(args: argparse.Namespace) -> int:
    from provider_gateway.adapters import portal_people

    async def work(conn: Connection) -> int:
        for row in await portal_people.people_of(conn, args.provider):
            print(json.dumps({key: _plain(value) for key, value in row.items()}))
        return 0

    return _with_db(args.state_dir, "provider-gateway", work)


def _webhooks(args: argparse.Namespace) -> int:
    from provider_gateway import admin

    async def work(conn: Connection) -> int:
        if args.action == "list":
            for row in await admin.webhook_endpoints(conn, args.provider):
                print(json.dumps({key: _plain(value) for key, value in row.items()}))
            return 0
        if args.action == "blocks":
            for row in await admin.webhook_blocks(conn, args.provider):
                print(json.dumps({key: _plain(value) for key, value in row.items()}))
            return 0
        if args.action == "unblock":
            if args.provider is None or args.host is None:
                print("Name the --provider and the --host to unblock.", file=sys.stderr)
                return 1
            lifted = await admin.unblock_webhook_host(conn, args.provider, args.host)
            if not lifted:
                print("No block on that host for that provider.")
                return 1
            print(f"Unblocked; {len(lifted)} block(s) lifted, the endpoints an operator disabled enabled.")
            return 0
        if args.endpoint_id is None:
            print(f"Name the endpoint id to {args.action}.", file=sys.stderr)
            return 1
        endpoint_id = args.endpoint_id
        if args.action == "disable":
            done = await admin.disable_webhook_endpoint(conn, endpoint_id, args.reason)
            print("Disabled; the provider sees the reason." if done else "No endpoint with that id.")
        else:
            done = await admin.enable_webhook_endpoint(conn, endpoint_id)
            print("Enabled." if done else "No disabled endpoint with that id.")
        return 0 if done else 1

    return _with_db(args.state_dir, "provider-gateway", work)


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | bool | list) or value is None else str(value)


def _dlq(args: argparse.Namespace) -> int:
    from samspil.runtime.deadletters import count_redacted, list_dead_letters, replay_dead_letters

    async def work(conn: Connection) -> int:
        if args.action == "list":
            try:
                page = await list_dead_letters(
                    conn, include_replayed=args.all, cursor=args.cursor, limit=args.limit
                )
            except Problem:
                print("The --cursor is not one a dead-letter list gave.", file=sys.stderr)
                return 1
            if args.json:
                print(page.model_dump_json())
                return 0
            for item in page.items:
                print(item.model_dump_json())
            if page.next_cursor is not None:
                print(f"More: {_next_dead_letter_page(args, page.next_cursor)}", file=sys.stderr)
            elif not page.items:
                print("No dead letters.", file=sys.stderr)
            return 0
        ids = None if args.all else args.ids
        if not ids and not args.all:
            print("Name dead-letter ids to replay, or --all.", file=sys.stderr)
            return 1
        print(f"Replayed {await replay_dead_letters(conn, ids)} dead letter(s).")
        redacted = await count_redacted(conn, ids)
        if redacted:
            print(
                f"{redacted} dead letter(s) held a CPR number and were redacted: they cannot be "
                "replayed; the sender must send them again without it."
            )
        return 0

    return _with_db(args.state_dir, args.service, work)


def _next_dead_letter_page(args: argparse.Namespace, cursor: str) -> str:
    """The command that lists the page after this one, with this one's options."""
    command = ["samspil", "dlq", "list", args.service]
    if args.state_dir != _default_state_dir():
        command += ["--state-dir", str(args.state_dir)]
    if args.all:
        command.append("--all")
    if args.limit != DEFAULT_PAGE:
        command += ["--limit", str(args.limit)]
    return shlex.join([*command, "--cursor", cursor])


def _outbox(args: argparse.Namespace) -> int:
    async def work(conn: Connection) -> int:
        rows = await conn.fetch(
            "SELECT seq, event_id, event_type, topic, created_at, parked_at, last_error FROM outbox"
            " WHERE parked_at IS NOT NULL ORDER BY seq"
        )
        for row in rows:
            print(json.dumps({key: str(value) for key, value in dict(row).items()}))
        if not rows:
            print("No parked outbox records.")
        return 0

    return _with_db(args.state_dir, args.service, work)


def _audit(args: argparse.Namespace) -> int:
    actions = {"protect": _audit_protect, "migrate": _audit_migrate, "verify": _audit_verify}
    return actions[args.action](args)


def _audit_verify(args: argparse.Namespace) -> int:
    from samspil.runtime import audit

    async def verify(conn: Connection) -> int:
        failed = False
        for report in await audit.verify_chains(conn):
            if report.broken is None:
                # One line a table; each lane's head, to keep and compare with a later run.
                heads = "".join(f"; lane {h.lane} head seq {h.seq} hash {h.hash}" for h in report.lanes)
                lanes = len(report.lanes)
                print(f"{report.table}: {report.rows} row(s) in {lanes} lane(s), chain intact{heads}")
            else:
                print(str(report.broken), file=sys.stderr)
                failed = True
        unprotected = await audit.unprotected_objects(conn)
        if unprotected:
            print(
                f"Warning: unprotected: the service's role can still change {', '.join(unprotected)};"
                " run 'samspil audit protect'.",
                file=sys.stderr,
            )
        return 1 if failed else 0

    return _with_db(args.state_dir, args.service, verify)


def _audit_protect(args: argparse.Namespace) -> int:
    from samspil.runtime import audit

    admin_url = args.admin_url or os.environ.get("SAMSPIL_ADMIN_DATABASE_URL")
    if not admin_url:
        print("Give --admin-url (or SAMSPIL_ADMIN_DATABASE_URL): a superuser's URL.", file=sys.stderr)
        return 1
    service = urlsplit(database_url(args.state_dir, args.service))
    role, database = unquote(service.username or ""), unquote(service.path.lstrip("/"))
    spec = next(s for s in SERVICES if s.name == args.service)

    async def protect() -> int:
        # What the service has migrated is read as the service's own role: a superuser must not
        # read tables (or views, or functions behind them) that role made.
        as_service = await _connect(database_url(args.state_dir, args.service), args.service)
        try:
            # Once protected, the tables can no longer be changed by the service's own migrations.
            pending = await pending_migrations(
                as_service, "samspil.runtime.migrations", f"{spec.module}.migrations"
            )
        finally:
            await as_service.close()
        if pending:
            print(
                f"{args.service} has not applied {len(pending)} migration(s) yet ({pending[0]} ...);"
                " start it and run this again.",
                file=sys.stderr,
            )
            return 2
        with _connection_failure_said(
            admin_url, f"{args.service} (as the administrator)", "--admin-url (SAMSPIL_ADMIN_DATABASE_URL)"
        ):
            conn = await audit.admin_connect(admin_url, database)
        try:
            owner = await audit.protect(conn, role)
            left = await audit.unprotected_objects(conn, role)
        except audit.PlantedObjects as refused:
            print(f"Not protected: {refused}", file=sys.stderr)
            return 1
        finally:
            await conn.close()
        if left:
            print(f"Still changeable by {role}: {', '.join(left)}", file=sys.stderr)
            return 1
        print(f"The audit tables of {args.service} belong to {owner}; {role} may only insert and read.")
        return 0

    return asyncio.run(protect())


def _audit_migrate(args: argparse.Namespace) -> int:
    """Apply the service's pending migrations as it would when it starts, and those its role is
    refused since `protect` (they change schema audit) as the audit schema's owner."""
    from samspil.runtime import audit

    admin_url = args.admin_url or os.environ.get("SAMSPIL_ADMIN_DATABASE_URL")
    if not admin_url:
        print("Give --admin-url (or SAMSPIL_ADMIN_DATABASE_URL): a superuser's URL.", file=sys.stderr)
        return 1
    service_url = database_url(args.state_dir, args.service)
    role, database = (
        unquote(urlsplit(service_url).username or ""),
        unquote(urlsplit(service_url).path.lstrip("/")),
    )
    spec = next(s for s in SERVICES if s.name == args.service)
    packages = ("samspil.runtime.migrations", f"{spec.module}.migrations")

    async def migrate() -> int:
        # What the service has applied is read, and recorded, as the service's own role: a
        # superuser must not touch tables (or their triggers) that role made.
        as_service = await _connect(service_url, args.service)
        try:
            with _connection_failure_said(
                admin_url,
                f"{args.service} (as the administrator)",
                "--admin-url (SAMSPIL_ADMIN_DATABASE_URL)",
            ):
                admin = await audit.admin_connect(admin_url, database)
            try:
                return await apply_refused(as_service, admin)
            finally:
                await admin.close()
        finally:
            await as_service.close()

    async def apply_refused(as_service: Connection, admin: Connection) -> int:
        try:
            by_service, by_owner = await audit.migrate_protected(as_service, admin, role, packages)
        except asyncpg.PostgresError as error:
            print(f"A migration fails for {role}: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
        except audit.PlantedObjects as refused:
            print(f"Not applied as {role}_audit: {refused}", file=sys.stderr)
            return 1
        left = await audit.unprotected_objects(admin, role)
        if left:
            print(f"Still changeable by {role}: {', '.join(left)}", file=sys.stderr)
            return 1
        print(
            f"Applied as {role}_audit: {', '.join(by_owner) or 'none'}; as {role}: {len(by_service)}"
            f" migration(s). {args.service} may start."
        )
        return 0

    return asyncio.run(migrate())


def _token(args: argparse.Namespace) -> int:
    if os.environ.get("SAMSPIL_AUTH_JWKS_URL"):
        print(
            "SAMSPIL_AUTH_JWKS_URL is set: the services accept only tokens from the municipality's "
            "OpenID Connect provider, so get one there.",
            file=sys.stderr,
        )
        return 1
    max_lifetime = int(os.environ.get("SAMSPIL_AUTH_MAX_LIFETIME_SECONDS", DEFAULT_MAX_LIFETIME_SECONDS))
    if not 0 < args.ttl <= max_lifetime:
        print(f"--ttl must be between 1 and {max_lifetime} seconds (the services' maximum).", file=sys.stderr)
        return 1
    department = args.department or _department_of(args.role)
    if department is None:
        print("These roles call both departments; say which with --for.", file=sys.stderr)
        return 1
    spec = next(s for s in SERVICES if s.name == department)
    audience = os.environ.get(f"{spec.env_prefix}AUTH_AUDIENCE", DEPARTMENT_AUDIENCES[department])
    # The secret the local runner gives the services: the environment's, else the state folder's.
    secret = os.environ.get("SAMSPIL_AUTH_SECRET")
    if not secret:
        args.state_dir.mkdir(parents=True, exist_ok=True)
        secret = LocalStack.from_env(args.state_dir).staff_token_secret()
    try:
        token = issue_local_token(
            secret,
            subject=args.subject,
            roles=args.role,
            team=args.team,
            name=args.name,
            issuer=os.environ.get("SAMSPIL_AUTH_ISSUER", "samspil-local"),
            audience=audience,
            ttl_seconds=args.ttl,
        )
    except ValueError as error:
        print(f"Cannot issue a token: {error}.", file=sys.stderr)
        return 1
    print(token)
    return 0


def _department_of(roles: list[str]) -> str | None:
    """The one department whose API these roles call, or None when they call both."""
    departments = {DEPARTMENT_OF_ROLE[Role(role)] for role in roles}
    return departments.pop() if len(departments) == 1 else None


def _contracts(args: argparse.Namespace) -> int:
    from samspil import contracts

    if args.action == "generate":
        written = contracts.generate() + contracts.write_asyncapi()
        print("\n".join(written) if written else "Contracts and AsyncAPI documents are up to date.")
        return 0
    report = contracts.compatibility_report(contracts.released_versions(), contracts.current_schemas())
    for name, problems in report.items():
        for problem in problems:
            print(f"{name}: {problem}")
    if not report:
        print("No published contract is broken.")
    return 1 if report else 0


def _at_least_one(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _strimzi_api_version(text: str) -> str:
    return text if "/" in text else f"kafka.strimzi.io/{text}"


def _deploy(args: argparse.Namespace) -> int:
    from samspil import deploy

    text = deploy.render_topics(
        cluster=args.cluster, namespace=args.namespace, replicas=args.replicas, api_version=args.api_version
    )
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"Wrote {args.output}.")
    return 0


def _import(args: argparse.Namespace) -> int:
    from employment.domain.actor import Actor
    from employment.entrypoints import csv_import
    from employment.entrypoints.csv_format import BadFile
    from samspil.progress import ProgressBar
    from samspil.runtime.redaction import redact_text
    from schemas.cpr import mask_cpr_numbers

    database_url(args.state_dir, "employment")  # says first if there is no database to import into
    settings = _enrolment_settings(args.state_dir)
    name = mask_cpr_numbers(args.file.name)
    if not args.file.is_file():
        raise CommandError(f"{name}: no such file")
    bar: ProgressBar | None = None
    committed = 1

    def progress(step: csv_import.Progress) -> None:
        nonlocal bar, committed
        committed = step.line
        bar = bar or ProgressBar(step.total_lines, "lines")
        bar.update(step.line, f"{step.rows_this_run / max(step.seconds, 1e-9):,.0f} citizens/s")

    def refused(refusal: csv_import.Refusal) -> None:
        text = f"line {refusal.line}: {refusal.reason}"
        if bar:
            bar.print(text)
        else:
            print(text, file=sys.stderr)

    async def work(conn: Connection) -> int:
        pending = await pending_migrations(conn, "samspil.runtime.migrations", "employment.migrations")
        if pending:
            raise CommandError(
                f"the employment database has not applied {len(pending)} migration(s) ({pending[0]} ...):"
                " start the employment service once (it migrates at start-up), then import"
            )
        if contains_cpr(args.actor):
            # Written into the citizen, plan and share rows and printed: never a CPR number.
            raise CommandError("--actor: a name, not a CPR number")
        try:
            result = await csv_import.import_file(
                conn,
                args.file,
                settings,
                Actor(name=args.actor),
                chunk_rows=args.chunk_rows,
                on_progress=progress,
                on_refused=refused,
            )
        except BadFile as bad:
            raise CommandError(f"{name}: {bad}") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            # One line, without the server's DETAIL: it quotes the values (a CPR number too).
            reason = redact_text(str(error).splitlines()[0] if str(error) else "")
            raise CommandError(
                f"{name}: the import stopped ({type(error).__name__}: {reason}); lines up to {committed}"
                " are committed: run the same command again to continue"
            ) from None
        if bar:
            bar.close()
        run = result.run
        if args.refusals:
            # The whole file's, a run that continued an interrupted one too.
            with args.refusals.open("w", encoding="utf-8", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["line", "reason"])
                writer.writerows([refusal.line, refusal.reason] for refusal in result.refusals)
        if result.already_finished:
            for refusal in result.refusals:
                refused(refusal)
            print(
                f"{name} was imported already (finished {run.finished_at:%Y-%m-%d %H:%M %Z},"
                f" started by {run.started_by}); nothing to do."
            )
        print(
            f"{name}: {run.enrolled:,} enrolled, {run.already_enrolled:,} already enrolled,"
            f" {run.plans_made:,} job plans made, {run.refused:,} refused"
            + (
                f" (continued after line {result.resumed_from_line})"
                if 1 < result.resumed_from_line and not result.already_finished
                else ""
            )
        )
        if not result.already_finished:
            print(
                f"{result.rows_this_run:,} rows in {result.seconds:,.1f} s:"
                f" {result.citizens_per_second:,.0f} citizens/s"
            )
        return 1 if run.refused else 0

    try:
        return _with_db(args.state_dir, "employment", work)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        print(
            f"Interrupted: lines up to {committed} are committed; run the same command again to continue.",
            file=sys.stderr,
        )
        return 130


def _enrolment_settings(state_dir: Path) -> EnrolmentSettings:
    """The enrolment settings the employment service reads, with the citizen-reference key from
    SAMSPIL_CITIZEN_REF_KEY or else the local stack's (never a new one: the references would not
    match the service's)."""
    from pydantic import ValidationError

    from employment.enrolment_settings import EnrolmentSettings

    given: dict[str, Any] = {}
    if not os.environ.get("SAMSPIL_CITIZEN_REF_KEY"):
        try:
            # The local runner keeps the key here (LocalStack._persistent_secret).
            given["SAMSPIL_CITIZEN_REF_KEY"] = json.loads((state_dir / "secrets.json").read_text())[
                "citizen-ref-key"
            ]
        except (OSError, ValueError, KeyError, TypeError):
            raise CommandError(
                f"SAMSPIL_CITIZEN_REF_KEY is not set and {state_dir} holds no local key: set the key the"
                " employment service uses, or run 'samspil up' first (with the same --state-dir)"
            ) from None
    try:
        return EnrolmentSettings(**given)
    except ValidationError as invalid:
        fields = ", ".join(str(error["loc"][0]) for error in invalid.errors())
        raise CommandError(f"invalid settings: {fields}") from None


_SERVICE_PREFIXES = ", ".join(spec.env_prefix for spec in SERVICES)
_DATABASE_ENVIRONMENT = (
    "environment:\n"
    f"  <SERVICE>_DATABASE_URL  the service's database (prefixes: {_SERVICE_PREFIXES});\n"
    "                          else the local stack's, from the state folder\n"
    "  SAMSPIL_POSTGRES_PORT   the local stack's PostgreSQL port (default 15432)"
)
_UP_ENVIRONMENT = (
    "environment:\n"
    "  KAFKA_BOOTSTRAP_SERVERS   use this broker instead of the embedded one\n"
    "  <SERVICE>_DATABASE_URL    use this database instead of the embedded PostgreSQL\n"
    "  SAMSPIL_BROKER_PORT       the embedded broker's port (default 19092)\n"
    "  SAMSPIL_POSTGRES_PORT     the embedded PostgreSQL's port (default 15432)\n"
    "  <SERVICE>_HTTP_PORT       the service's port (defaults 8080, 8081, 8082)\n"
    "  <SERVICE>_METRICS_PORT    the service's metrics port (default: a free one)\n"
    "  <SERVICE>_STOP_TIMEOUT_SECONDS  the service's longest orderly stop (default 10);\n"
    "                            the runner kills it 5 s after that\n"
    "  SAMSPIL_BROKER_CHECK_SECONDS  how often each service asks the broker whether it is\n"
    "                            still the one it knew (default 5); a restarted embedded\n"
    "                            broker gets its topics and unread events back;\n"
    "                            0 turns the check off\n"
    "  SAMSPIL_BROKER_OUTAGE_LOG_SECONDS  while the broker is away, one log line per this\n"
    "                            many seconds with the count of failed attempts (default 30)\n"
    "  SAMSPIL_AUTH_SECRET       the built-in staff token issuer's secret (default: kept\n"
    "                            in the state folder); unused with SAMSPIL_AUTH_JWKS_URL\n"
    f"Every other variable is passed on to the services, a prefixed one ({_SERVICE_PREFIXES})\n"
    "only to its own service."
)
_ISSUER_ENVIRONMENT = (
    "environment:\n"
    "  SAMSPIL_AUTH_SECRET                the signing secret (default: the state folder's)\n"
    "  SAMSPIL_AUTH_JWKS_URL              if set, refuse: tokens come from that provider\n"
    "  SAMSPIL_AUTH_ISSUER                the token's issuer (default samspil-local)\n"
    "  SAMSPIL_AUTH_MAX_LIFETIME_SECONDS  the longest --ttl (default 3600)\n"
    "  EMPLOYMENT_AUTH_AUDIENCE, SOCIAL_AUTH_AUDIENCE  the departments' audiences"
)


def _page_limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 500:
        raise argparse.ArgumentTypeError(f"a number from 1 to 500, not {text!r}")
    return int(text)


def _default_state_dir() -> Path:
    return Path(os.environ.get("SAMSPIL_STATE_DIR", ".samspil"))


def build_parser() -> argparse.ArgumentParser:
    default_state_dir = _default_state_dir()
    state_dir_help = (
        f"local state folder (default: SAMSPIL_STATE_DIR, else .samspil; now {default_state_dir})"
    )
    parser = argparse.ArgumentParser(
        prog="samspil",
        description=__doc__,
        epilog="Each command's --help names the environment variables it reads.",
    )
    parser.add_argument("--state-dir", type=Path, default=default_state_dir, help=state_dir_help)
    # --state-dir also after the command; SUPPRESS keeps the one given before it otherwise.
    state_dir = argparse.ArgumentParser(add_help=False)
    state_dir.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help=state_dir_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, environment: str = "", **options: Any) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=options.pop("description", summary),
            epilog=environment or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[state_dir],
            **options,
        )

    def service_argument(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "service", choices=[spec.name for spec in SERVICES], help="the service whose database to use"
        )

    up = command(
        "up",
        "run broker, databases and all services locally",
        _UP_ENVIRONMENT,
        description="Run the embedded broker and PostgreSQL and the three services, each as its own"
        " process; restart a service that dies (after 1 s, doubling to 30 s while it keeps dying);"
        " stop everything in order on Ctrl-C.",
    )
    up.add_argument(
        "--replicas",
        type=_replicas,
        default=1,
        metavar="N",
        help=f"run N instances (1 to {MAX_REPLICAS}) of each department service"
        f" ({', '.join(sorted(REPLICATED))}), each on its own ports: the first on the service's"
        " port, the others on free ones; they share the work (default 1)",
    )
    up.set_defaults(run=_up)
    command("stop", "stop a running 'samspil up'").set_defaults(run=_stop)
    command("reset", "wipe the local state folder").set_defaults(run=_reset)

    provider = command(
        "provider",
        "manage provider credentials",
        _DATABASE_ENVIRONMENT.replace("<SERVICE>_DATABASE_URL", "PROVIDER_GATEWAY_DATABASE_URL"),
    )
    provider_actions = provider.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="what to do (each has its own --help)"
    )
    for action, summary, name_help in (
        ("add", "add a provider and print its API credentials", "the provider id"),
        ("rotate", "rotate a client's secret (its tokens stop working)", "the client id"),
        ("disable", "disable a client (its tokens stop working)", "the client id"),
    ):
        sub = provider_actions.add_parser(
            action,
            help=summary,
            description=summary,
            parents=[state_dir],
            epilog=provider.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("name", help=name_help)
        sub.set_defaults(run=_provider)
    user = provider_actions.add_parser(
        "user",
        help="manage the people who log in to the provider portal",
        description="The provider portal's built-in user store (local runs, and providers without an"
        " identity provider).",
        parents=[state_dir],
    )
    user_actions = user.add_subparsers(
        dest="user_action", required=True, metavar="USER_ACTION", help="what to do (each has its own --help)"
    )
    user_add = user_actions.add_parser(
        "add",
        help="add a person of PROVIDER who logs in as EMAIL (or set a new password for them)",
        description="Add a person of PROVIDER who logs in to the portal as EMAIL, or give an existing"
        " one a new password. A generated password is printed once; --password-stdin reads one"
        " instead (at least 12 characters). Only its argon2 hash is stored.",
        parents=[state_dir],
        epilog=provider.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    user_add.add_argument("provider", metavar="PROVIDER", help="the provider id the person works for")
    user_add.add_argument("email", metavar="EMAIL", help="the e-mail address the person logs in with")
    user_add.add_argument("--name", help="the person's name as the portal shows it (default: from EMAIL)")
    user_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_add.set_defaults(run=_portal_user)
    for action, summary, description in (
        (
            "disable",
            "close the portal to the person of PROVIDER who logs in as EMAIL (their sessions end at once)",
            "Close the portal to the person of PROVIDER who logs in as EMAIL (with a password or through"
            " the identity provider): every session of theirs ends at once and no login lets them in"
            " until `enable`. Their audit rows and what they did stay.",
        ),
        (
            "enable",
            "open the portal again to a disabled person of PROVIDER",
            "Let the disabled person of PROVIDER who logs in as EMAIL log in again (with the password"
            " they had, or through the identity provider); a lockout for wrong passwords is lifted too.",
        ),
    ):
        user_access = user_actions.add_parser(
            action,
            help=summary,
            description=description,
            parents=[state_dir],
            epilog=provider.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        user_access.add_argument("provider", metavar="PROVIDER", help="the provider id the person works for")
        user_access.add_argument("email", metavar="EMAIL", help="the e-mail address the person logs in with")
        user_access.set_defaults(run=_portal_user_access)
    user_list = user_actions.add_parser(
        "list",
        help="the people of PROVIDER who may log in to the portal, as JSON lines",
        description="Every person of PROVIDER in the portal's user store as a JSON line: email,"
        " display_name, login (password or identity provider), created_at, disabled_at, locked and"
        " sessions (how many are open). Never a password or its hash.",
        parents=[state_dir],
        epilog=provider.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    user_list.add_argument("provider", metavar="PROVIDER", help="the provider id")
    user_list.set_defaults(run=_portal_user_list)

    webhooks = command(
        "webhooks",
        "list, disable or enable providers' webhook endpoints; list or lift operators' blocks",
        _DATABASE_ENVIRONMENT.replace("<SERVICE>_DATABASE_URL", "PROVIDER_GATEWAY_DATABASE_URL"),
        description="list: every webhook endpoint as a JSON line (never its secret), or one "
        "provider's with --provider. disable: stop deliveries to an endpoint; the provider sees "
        "the --reason on it and cannot enable it again, and the endpoint's host is blocked for the "
        "provider (every endpoint of it there, and registering there again) until lifted. enable: "
        "undo a disable (by anyone). blocks: every operator's block as a JSON line (provider, host, "
        "endpoint id, reason; also those whose endpoint was deleted), or one provider's with "
        "--provider. unblock: lift the blocks on --host for --provider.",
    )
    webhooks.add_argument(
        "action", choices=["list", "disable", "enable", "blocks", "unblock"], help="see above"
    )
    webhooks.add_argument("endpoint_id", nargs="?", type=uuid.UUID, help="disable, enable: the endpoint")
    webhooks.add_argument(
        "--provider", help="list, blocks: only this provider's; unblock: the provider (required)"
    )
    webhooks.add_argument("--host", help="unblock: the blocked host (as `blocks` shows it)")
    webhooks.add_argument(
        "--reason", default="disabled by an operator", help="disable: why, shown to the provider"
    )
    webhooks.set_defaults(run=_webhooks)

    dlq = command(
        "dlq",
        "list or replay dead letters",
        _DATABASE_ENVIRONMENT,
        description="list: a page of dead letters, oldest first, as JSON lines (never a CPR number: "
        "a dead letter that held one was redacted); when there are more, the command for the next "
        "page is printed on stderr. A dead letter written while you page may not be in that walk "
        "(its id is drawn before its transaction commits): list again from the start, without "
        "--cursor, to see it. replay: put dead letters back on their topics.",
    )
    dlq.add_argument(
        "action", choices=["list", "replay"], help="list dead letters as JSON lines, or replay some"
    )
    service_argument(dlq)
    dlq.add_argument("ids", nargs="*", type=int, help="replay: the dead-letter ids to replay")
    dlq.add_argument("--all", action="store_true", help="list: include replayed; replay: every one")
    dlq.add_argument(
        "--limit",
        type=_page_limit,
        default=DEFAULT_PAGE,
        metavar="N",
        help=f"list: at most N per page, 1-500 (default {DEFAULT_PAGE})",
    )
    dlq.add_argument(
        "--cursor",
        help="list: the page after this cursor (as the page before printed it); dead letters "
        "written since the first page may appear only in a new listing from the start",
    )
    dlq.add_argument(
        "--json",
        action="store_true",
        help='list: the page as one JSON object {"items": [...], "next_cursor": ...}',
    )
    dlq.set_defaults(run=_dlq)

    contracts = command("contracts", "generate JSON Schemas and AsyncAPI, or check compatibility")
    contracts.add_argument(
        "action",
        choices=["generate", "check"],
        help="generate: write the schemas and AsyncAPI documents; check: compare with released ones",
    )
    contracts.set_defaults(run=_contracts)

    token = command(
        "token",
        "print a caseworker bearer token for the local stack",
        _ISSUER_ENVIRONMENT,
        description="Print a bearer token from the built-in issuer, signed with the local stack's "
        "secret, for one department (each accepts only its own). Use it as: curl -H "
        '"Authorization: Bearer $(samspil token --role employment-caseworker --team jobcenter-nord)" ...',
    )
    token.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[role.value for role in Role],
        help="the caller's role; repeatable",
    )
    token.add_argument("--team", help="the caller's team, e.g. jobcenter-nord")
    token.add_argument("--subject", default="local-caseworker", help="the caller's id (the token's sub)")
    token.add_argument("--name", help="the caller's display name")
    token.add_argument(
        "--for",
        dest="department",
        choices=sorted(DEPARTMENT_AUDIENCES),
        help="the department whose API the token is for (default: the one the roles call; "
        "a specialist-unit token is for social)",
    )
    token.add_argument(
        "--ttl",
        type=int,
        default=DEFAULT_MAX_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="lifetime, at most SAMSPIL_AUTH_MAX_LIFETIME_SECONDS (default 3600)",
    )
    token.set_defaults(run=_token)

    audit = command(
        "audit",
        "check the audit tables' hash chains, or hand the tables to their own owner role",
        _DATABASE_ENVIRONMENT
        + "\n  SAMSPIL_ADMIN_DATABASE_URL  protect, migrate: a superuser's database URL (else --admin-url)",
        description="verify: recompute the hash chains (one a lane) of every table in the service's"
        " audit schema, print each lane's head, and name the first broken link (exit code 1)."
        " protect: as a superuser, give the audit schema to a NOLOGIN role <service role>_audit;"
        " the service's role may then only insert and read. Run protect once the service has"
        " started (and migrated); it is idempotent. migrate: as a superuser, apply the pending"
        " migrations the service's role is refused since protect (they change the audit schema)"
        " as that owner role; then start the service.",
    )
    audit.add_argument("action", choices=["verify", "protect", "migrate"], help="see above")
    service_argument(audit)
    audit.add_argument(
        "--admin-url", help="protect, migrate: a superuser's database URL (else SAMSPIL_ADMIN_DATABASE_URL)"
    )
    audit.set_defaults(run=_audit)

    deploy = command(
        "deploy",
        "generate deployment files from the code",
        description="topics: the topic catalogue as Strimzi KafkaTopic resources (the services then"
        " run with KAFKA_CREATE_TOPICS=false). deploy/k8s/kafka/topics.yaml is this command's output"
        " with the defaults. Reads no environment variable.",
    )
    deploy.add_argument("what", choices=["topics"], help="topics: Strimzi KafkaTopic resources")
    deploy.add_argument(
        "--cluster", default="kafka", help="the Strimzi Kafka resource's name (default kafka)"
    )
    deploy.add_argument(
        "--namespace",
        default="kafka",
        help="the namespace the Topic Operator watches, the Kafka resource's (default kafka)",
    )
    deploy.add_argument(
        "--replicas",
        type=_at_least_one,
        default=3,
        help="replicas of each partition, at least 1 (default 3); min.insync.replicas is 2 (1 with one"
        " replica)",
    )
    deploy.add_argument(
        "--api-version",
        type=_strimzi_api_version,
        choices=["kafka.strimzi.io/v1", "kafka.strimzi.io/v1beta2"],
        default="kafka.strimzi.io/v1",
        help="the KafkaTopic API version: kafka.strimzi.io/v1 (Strimzi 0.49 and later, the default) or"
        " kafka.strimzi.io/v1beta2 (older Strimzi); v1 or v1beta2 alone will do",
    )
    deploy.add_argument("-o", "--output", type=Path, help="write to this file (default: standard output)")
    deploy.set_defaults(run=_deploy)

    from employment.entrypoints.csv_format import DEFAULT_CHUNK_ROWS, FORMAT

    onboarding = command(
        "import",
        "enrol citizens and their job plans from a CSV file",
        f"{FORMAT}\n\n"
        + _DATABASE_ENVIRONMENT.replace("<SERVICE>_DATABASE_URL", "EMPLOYMENT_DATABASE_URL")
        + "\n  SAMSPIL_CITIZEN_REF_KEY, SAMSPIL_CITIZEN_REF_KEY_ID  the citizen-reference key and its id"
        "\n                          (default: the local stack's key, from the state folder)"
        "\n  EMPLOYMENT_JOB_PLAN_SHARE_BASIS, EMPLOYMENT_FOLLOW_UP_REMINDER_DAYS  as the service reads them",
        description="Enrol the citizens of a CSV file in the employment department, each with a first"
        " job plan, as the caseworkers' API would (the same checks, rows, events and audit rows), a"
        " chunk of rows per transaction. Refused rows are listed on stderr by line number and reason"
        " (never a CPR number), and the rest go on; the exit code is 1 if any row was refused. An"
        " interrupted import run again with the same file continues after the last committed line;"
        " a finished one does nothing. Progress on stderr, the summary on stdout.",
    )
    onboarding.add_argument("file", type=Path, help="the CSV file (format below)")
    onboarding.add_argument(
        "--actor",
        required=True,
        help="who runs the import (name of the caseworker or operator): recorded as the enrolling"
        " caseworker, the plan's author and in the audit log's shares",
    )
    onboarding.add_argument(
        "--chunk-rows",
        type=_at_least_one,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows per transaction (default {DEFAULT_CHUNK_ROWS})",
    )
    onboarding.add_argument(
        "--refusals",
        type=Path,
        metavar="PATH",
        help="also write the file's refused lines to this CSV (line,reason) when the import ends",
    )
    onboarding.set_defaults(run=_import)

    outbox = command("outbox", "list outbox records the broker can never take", _DATABASE_ENVIRONMENT)
    outbox.add_argument("action", choices=["parked"], help="parked: the records set aside as unpublishable")
    service_argument(outbox)
    outbox.set_defaults(run=_outbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except CommandError as error:
        print(f"samspil {args.command}: {error}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
