"""The all-in-one local runner behind ``make up``: embedded broker and PostgreSQL, then the
three services as separate processes, as in production.

Any part given from outside is used instead of the embedded one: ``KAFKA_BOOTSTRAP_SERVERS``
for the broker, ``<SERVICE>_DATABASE_URL`` for each service's database.

Each service process gets only its own settings (its prefix), the shared ones, and the shared
secrets it needs: the gateway never holds the staff token secret (it could mint caseworker
tokens) or the citizen-reference key, the departments never hold the gateway's token secret or
another service's database URL. Logs are written to a folder only the owner can read.

With ``replicas`` above 1 each department service runs that many instances, each a process
with its own HTTP and metrics port, on the same database: their consumers share the topics'
partitions in one consumer group and one of their outbox relays publishes at a time (see
samspil.runtime.outbox). The first instance keeps the service's name and port; the others are
named ``<service>-2`` and so on, on free ports.

Stop order matters because the embedded broker keeps topics in memory: first the gateway (the
entry point for new work), then the department services, then the broker, then PostgreSQL.
Each service publishes what its outbox still holds before it exits; whatever the broker had
not delivered when it stopped is published again at the next start, and consumers deduplicate.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from samspil.local.broker import CLIENT_ENV, SLOWER_FETCH_ENV, EmbeddedBroker
from samspil.local.files import open_private_log, private_directory
from samspil.local.postgres import EmbeddedPostgres
from samspil.local.processes import stop_process


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    env_prefix: str
    database: str
    default_port: int


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("provider-gateway", "provider_gateway", "PROVIDER_GATEWAY_", "provider_gateway", 8080),
    ServiceSpec("employment", "employment", "EMPLOYMENT_", "employment", 8081),
    ServiceSpec("social", "social", "SOCIAL_", "social", 8082),
)
DEFAULT_BROKER_PORT = 19092
DEFAULT_POSTGRES_PORT = 15432
DEFAULT_STOP_TIMEOUT = 10.0  # the services' own default (RuntimeSettings.stop_timeout_seconds)
STOP_GRACE_SECONDS = 5.0
_DEPARTMENTS = frozenset({"employment", "social"})
# The embedded broker's name for the supervisor.
BROKER = "broker"
# The services `--replicas` multiplies; the gateway stays one: it is the providers' one address.
REPLICATED = _DEPARTMENTS
# Unprefixed secrets, by the services that may hold them; every other unprefixed variable is
# shared configuration, and a service's own secrets carry its prefix.
SHARED_SECRETS: dict[str, frozenset[str]] = {
    "SAMSPIL_AUTH_SECRET": _DEPARTMENTS,  # signs caseworker tokens
    "SAMSPIL_CITIZEN_REF_KEY": _DEPARTMENTS,  # turns a CPR number into the citizen reference
}


# Ports handed out by this process, not yet necessarily bound by whoever asked for them.
_HANDED_OUT: set[int] = set()
# Where free ports are looked for: below the kernel's ephemeral range on Linux (32768-60999 by
# default), so no outgoing connection takes a port between it being handed out and being bound.
_PORTS_FROM, _PORTS_TO = 20000, 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server about to be started.
    Never the same port twice in one process; under pytest-xdist each worker looks only in its
    own share of the range, so two workers never hand out the same port. Outside the range the
    kernel picks (when the range is taken, or the ephemeral range starts below it)."""
    low, high = _port_share()
    for _ in range(500):
        port = random.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        kernel_port: int = sock.getsockname()[1]
        return kernel_port


def _port_share() -> tuple[int, int]:
    low, high = _PORTS_FROM, min(_PORTS_TO, _ephemeral_start())
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker.startswith("gw") and worker[2:].isdigit() and workers and workers.isdigit():
        size = (high - low) // int(workers)
        low += int(worker[2:]) * size
        high = low + size
    return low, max(high, low + 1)


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _PORTS_TO


@dataclass
class LocalStack:
    state_dir: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    broker_port: int = DEFAULT_BROKER_PORT
    postgres_port: int = DEFAULT_POSTGRES_PORT
    service_ports: dict[str, int] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    replicas: int = 1
    broker: EmbeddedBroker | None = field(init=False, default=None)
    postgres: EmbeddedPostgres | None = field(init=False, default=None)
    processes: dict[str, subprocess.Popen[bytes]] = field(init=False, default_factory=dict)
    bootstrap_servers: str = field(init=False, default="")
    database_urls: dict[str, str] = field(init=False, default_factory=dict)
    _base_env: dict[str, str] = field(init=False, default_factory=dict)

    @classmethod
    def from_env(cls, state_dir: Path) -> LocalStack:
        """Ports from SAMSPIL_BROKER_PORT, SAMSPIL_POSTGRES_PORT and <SERVICE>_HTTP_PORT."""
        return cls(
            state_dir=state_dir,
            broker_port=int(os.environ.get("SAMSPIL_BROKER_PORT", DEFAULT_BROKER_PORT)),
            postgres_port=int(os.environ.get("SAMSPIL_POSTGRES_PORT", DEFAULT_POSTGRES_PORT)),
        )

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    def instances(self, service: str) -> list[str]:
        """The names of the service's processes: the service's own, then <service>-2 and on."""
        count = self.replicas if service in REPLICATED else 1
        return [service] + [f"{service}-{number}" for number in range(2, count + 1)]

    def all_instances(self) -> list[str]:
        return [name for spec in SERVICES for name in self.instances(spec.name)]

    def port(self, service: str) -> int:
        """The HTTP port of a service (its first instance) or of one of its other instances."""
        spec = spec_of(service)
        if service in self.service_ports:
            return self.service_ports[service]
        if service != spec.name:  # a further instance: a free port, kept for the stack's life
            self.service_ports[service] = free_port()
            return self.service_ports[service]
        return int(self.env.get(f"{spec.env_prefix}HTTP_PORT", spec.default_port))

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def metrics_port(self, service: str) -> int:
        """The service's internal metrics port: <SERVICE>_METRICS_PORT, else a free one, kept
        for the life of the stack so a restarted service keeps it."""
        spec = spec_of(service)
        if service not in self.metrics_ports:
            given = self.env.get(f"{spec.env_prefix}METRICS_PORT") if service == spec.name else None
            self.metrics_ports[service] = int(given) if given else free_port()
        return self.metrics_ports[service]

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port(service)}/metrics"

    def start_infrastructure(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        private_directory(self.logs)
        env: dict[str, str] = {}
        external_broker = self.env.get("KAFKA_BOOTSTRAP_SERVERS")
        if external_broker:
            self.bootstrap_servers = external_broker
        else:
            self.broker = EmbeddedBroker(self.broker_port, self.logs / "broker.log")
            self.broker.start()
            self.bootstrap_servers = self.broker.bootstrap_servers
            env.update(CLIENT_ENV)
            # The new broker remembers nothing: a new epoch tells the outboxes to publish again.
            env["SAMSPIL_BROKER_EPOCH"] = uuid.uuid4().hex
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap_servers
        for spec in SERVICES:
            given = self.env.get(f"{spec.env_prefix}DATABASE_URL")
            if given:
                self.database_urls[spec.name] = given
                continue
            if self.postgres is None:
                self.postgres = EmbeddedPostgres(
                    self.state_dir / "pgdata", self.postgres_port, log_file=self.logs / "postgres.log"
                )
                self.postgres.start()
            self.database_urls[spec.name] = self.postgres.ensure_service_database(spec.database)
            # Migrated here, not by the service: once an earlier start protected its audit schema,
            # a migration that changes it is the owner's to apply.
            self.postgres.apply_audit_migrations(
                spec.database,
                self.database_urls[spec.name],
                ("samspil.runtime.migrations", f"{spec.module}.migrations"),
            )
        self._base_env = env

    def service_env(self, spec: ServiceSpec, instance: str | None = None) -> dict[str, str]:
        instance = instance or spec.name
        other_prefixes = tuple(other.env_prefix for other in SERVICES if other != spec)
        env = {
            name: value
            for name, value in {**self.env, **self._base_env}.items()
            if not name.startswith(other_prefixes) and spec.name in SHARED_SECRETS.get(name, {spec.name})
        }
        env[f"{spec.env_prefix}DATABASE_URL"] = self.database_urls[spec.name]
        if env.get("KAFKA_FETCH_MAX_WAIT_MS") == CLIENT_ENV["KAFKA_FETCH_MAX_WAIT_MS"]:
            # The embedded broker's settings, not an operator's choice: see SLOWER_FETCH_ENV.
            env.update(SLOWER_FETCH_ENV.get(spec.name, {}))
        env[f"{spec.env_prefix}HTTP_PORT"] = str(self.port(instance))
        env[f"{spec.env_prefix}METRICS_PORT"] = str(self.metrics_port(instance))
        env.setdefault("SAMSPIL_LOG_FORMAT", "json")
        # Each service hashes the texts it redacts from dead letters under its own key.
        env.setdefault(
            f"{spec.env_prefix}DEAD_LETTER_KEY", self._persistent_secret(f"{spec.name}-dead-letter-key")
        )
        if spec.name == "provider-gateway":
            env.setdefault("PROVIDER_GATEWAY_TOKEN_SECRET", self._persistent_secret("gateway-token-secret"))
            # Locally, webhooks go to receivers on this machine, over plain http too.
            env.setdefault("PROVIDER_GATEWAY_WEBHOOK_LOCAL_MODE", "true")
            # ... and the OAuth2 metadata names the local http address each request came to.
            env.setdefault("PROVIDER_GATEWAY_LOCAL_MODE", "true")
        # Both departments must turn a CPR number into the same citizen reference.
        if spec.name in ("employment", "social"):
            env.setdefault("SAMSPIL_CITIZEN_REF_KEY", self._persistent_secret("citizen-ref-key"))
        if spec.name in _DEPARTMENTS and not env.get("SAMSPIL_AUTH_JWKS_URL"):
            # The built-in issuer: `samspil token` signs caseworker tokens with the same secret.
            env.setdefault("SAMSPIL_AUTH_SECRET", self.staff_token_secret())
        return env

    def _start_process(self, name: str) -> None:
        spec = spec_of(name)
        with open_private_log(self.logs / f"{name}.log") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env=self.service_env(spec, name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(
        self,
        timeout: float = 60.0,
        cancelled: Callable[[], bool] = lambda: False,
        on_ready: Callable[[str], None] = lambda name: None,
    ) -> None:
        """Start the broker, PostgreSQL and every service instance, and wait until all are
        ready. If that fails, whatever did start is stopped again before the error goes on: a
        caller that never got a running stack must not be left with its processes."""
        try:
            self.start_infrastructure()
            for name in self.all_instances():
                self._start_process(name)
            self.wait_ready(timeout, cancelled, on_ready)
            self.protect_audit_tables()
        except BaseException:
            self.stop()
            raise

    def protect_audit_tables(self) -> None:
        """Once each service has migrated, its audit tables go to their own owner role, so the
        service's role may only insert and read them. Only for the embedded PostgreSQL: for a
        database given from outside, its administrator runs `samspil audit protect`."""
        if self.postgres is None:
            return
        for spec in SERVICES:
            if spec.name not in self.env_given_databases():
                self.postgres.protect_audit_tables(spec.database)

    def env_given_databases(self) -> set[str]:
        return {spec.name for spec in SERVICES if self.env.get(f"{spec.env_prefix}DATABASE_URL")}

    def wait_ready(
        self,
        timeout: float = 60.0,
        cancelled: Callable[[], bool] = lambda: False,
        on_ready: Callable[[str], None] = lambda name: None,
    ) -> None:
        """Wait until every service (every instance) answers its readiness check, calling
        ``on_ready`` with each one's name as it does."""
        pending = set(self.all_instances())
        deadline = time.monotonic() + timeout
        while pending:
            if cancelled():
                raise RuntimeError("start cancelled")
            for name in sorted(pending):
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with code {process.returncode}; see {self.logs / name}.log"
                    )
                if self.is_ready(name):
                    pending.discard(name)
                    on_ready(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not ready within {timeout:.0f} s: {', '.join(sorted(pending))}")
            if pending:
                time.sleep(0.2)

    def stop_timeout(self, name: str) -> float:
        """How long to wait for a service's orderly stop before killing it: its own bound
        (<SERVICE>_STOP_TIMEOUT_SECONDS, default 10 s, which it keeps even with the broker
        gone) and a few seconds to exit."""
        spec = spec_of(name)
        own = float(self.env.get(f"{spec.env_prefix}STOP_TIMEOUT_SECONDS", DEFAULT_STOP_TIMEOUT))
        return own + STOP_GRACE_SECONDS

    def stop_service(self, name: str, timeout: float | None = None) -> None:
        stop_process(self.processes.pop(name, None), self.stop_timeout(name) if timeout is None else timeout)

    def kill_service(self, name: str) -> None:
        """Kill a service at once, as a crash would (tests use it)."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self) -> None:
        # In the documented order, whatever order restarts left the processes in.
        for name in self.all_instances():
            self.stop_service(name)
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def dead_services(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    # What the supervisor (samspil.local.supervisor) watches and restarts: the embedded broker
    # (started again on its port, empty, with a new cluster id, which the services notice) and
    # every service instance.
    def service_names(self) -> list[str]:
        broker = [BROKER] if self.broker is not None else []
        return broker + [name for name in self.all_instances() if name in self.processes]

    def exit_code(self, name: str) -> int | None:
        """The exit code of a service that died; None while it runs, or once it was stopped on
        purpose (stop_service, kill_service), which is not for the supervisor to undo."""
        if name == BROKER:
            return None if self.broker is None else self.broker.exit_code()
        process = self.processes.get(name)
        return None if process is None else process.poll()

    def start_service(self, name: str) -> None:
        """Start a service's process (or one instance's: ``employment-2``), or the broker again."""
        if name == BROKER:
            if self.broker is not None:
                self.broker.start()
            return
        self._start_process(name)

    def is_ready(self, name: str) -> bool:
        if name == BROKER:
            return self.broker is not None and self.broker.is_ready()
        return _is_ready(self.url(name) + "/readyz")

    def staff_token_secret(self) -> str:
        """The secret of the built-in staff token issuer, kept in the state folder across runs."""
        return self._persistent_secret("staff-token-secret")

    def _persistent_secret(self, name: str) -> str:
        path = self.state_dir / "secrets.json"
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        if name not in stored:
            stored[name] = secrets.token_urlsafe(48)
            path.write_text(json.dumps(stored))
            path.chmod(0o600)
        return stored[name]


def spec_of(name: str) -> ServiceSpec:
    """The service a process name stands for: ``employment`` or ``employment-2``."""
    for spec in SERVICES:
        if name == spec.name:
            return spec
        number = name.removeprefix(spec.name + "-")
        if number != name and number.isdigit():
            return spec
    raise KeyError(f"no service named {name!r}")


def _is_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except OSError:
        return False
