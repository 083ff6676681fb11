"""The one place that decides where the tests' broker and PostgreSQL come from:

1. addresses given in the environment (``SAMSPIL_TEST_KAFKA_BOOTSTRAP_SERVERS`` and
   ``SAMSPIL_TEST_DATABASE_URL``, a URL whose user may create databases);
2. else testcontainers (Kafka and PostgreSQL containers) when a Docker engine answers;
3. else the embedded parts: the Tansu broker and the embedded PostgreSQL server.

Everything runs on free ports in the test run's own folders, so a running ``make up`` is never
touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from samspil.local.broker import CLIENT_ENV, EmbeddedBroker
from samspil.local.postgres import EmbeddedPostgres
from samspil.local.runner import free_port


@dataclass(frozen=True)
class Infra:
    kind: str
    bootstrap_servers: str
    admin_dsn: str
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    # The PostgreSQL server's log, where the tests can read it (the embedded server's).
    postgres_log: Path | None = None

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for service processes: Tansu's client settings when it is the broker."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers, **(CLIENT_ENV if self.broker else {})}

    def create_database(self, prefix: str = "t") -> str:
        """A new, empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"

        async def create() -> None:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        _run(create())
        parts = urlsplit(self.admin_dsn)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def create_service_database(self, prefix: str) -> str:
        """A new, empty database owned by a new login role that is no superuser, as a service
        gets in production; returns the URL that logs in as that role."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        if self.postgres is not None:
            return self.postgres.ensure_service_database(name)
        password = secrets.token_urlsafe(24)

        async def create() -> None:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                await conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
                await conn.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
                await conn.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{name}" FROM PUBLIC')
            finally:
                await conn.close()

        _run(create())
        parts = urlsplit(self.admin_dsn)
        netloc = f"{name}:{password}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc, path=f"/{name}"))


def _run(coro: object) -> None:
    # Callable from sync fixtures and from inside a running loop alike.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def provide_infra(state_dir: Path) -> Iterator[Infra]:
    """The broker and PostgreSQL, their state in ``state_dir``, which the caller deletes after."""
    bootstrap = os.environ.get("SAMSPIL_TEST_KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("SAMSPIL_TEST_DATABASE_URL")
    if bootstrap and database:
        yield Infra("environment", bootstrap, database)
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with KafkaContainer() as kafka, PostgresContainer("postgres:16", driver=None) as postgres:
            yield Infra("testcontainers", kafka.get_bootstrap_server(), postgres.get_connection_url())
        return
    broker = EmbeddedBroker(free_port(), state_dir / "broker.log")
    embedded_pg = EmbeddedPostgres(state_dir / "pgdata", free_port(), log_file=state_dir / "postgres.log")
    broker.start()
    try:
        embedded_pg.start()
        try:
            yield Infra(
                "embedded",
                broker.bootstrap_servers,
                embedded_pg.admin_dsn,
                broker=broker,
                postgres=embedded_pg,
                postgres_log=embedded_pg.log_file,
            )
        finally:
            # The cluster goes with the state folder: no shutdown checkpoint for nobody to read
            # (after a whole run's databases it outlasted the stop's 30 s).
            embedded_pg.stop(discard=True)
    finally:
        broker.stop()
