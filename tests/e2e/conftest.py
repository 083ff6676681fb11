from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from samspil.local.runner import SERVICES, LocalStack, free_port
from samspil.runtime.auth import DEPARTMENT_AUDIENCES, DEPARTMENT_OF_ROLE, Role, issue_local_token
from tests.infra import Infra
from tests.oidc_provider import OidcProvider, running_oidc_provider
from tests.otlp import OtlpReceiver
from tests.support import random_cpr

EMPLOYMENT_TEAM = "Jobcenter Nord, team 3"
SOCIAL_TEAM = "Socialcenter Vest, team 2"


@dataclass
class RunningStack:
    stack: LocalStack
    env: dict[str, str]
    admin_dsn: str = ""

    def url(self, service: str) -> str:
        return self.stack.url(service)

    def samspil(self, *args: str) -> str:
        """Run the operator's command line against this stack."""
        result = subprocess.run(
            [sys.executable, "-m", "samspil.cli", "--state-dir", str(self.stack.state_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def protect_audit_tables(self, admin_dsn: str) -> None:
        """`samspil audit protect` for each service, as whoever provisions the databases does once
        the services migrated: side by side, as each run is mostly the command line's start-up."""
        with ThreadPoolExecutor(len(SERVICES)) as pool:
            list(
                pool.map(
                    lambda spec: self.samspil("audit", "protect", spec.name, "--admin-url", admin_dsn),
                    SERVICES,
                )
            )

    def caseworker_token(
        self,
        role: Role = Role.EMPLOYMENT_CASEWORKER,
        team: str = EMPLOYMENT_TEAM,
        department: str | None = None,
    ) -> str:
        """A token for `department`'s API (by default the one the role calls)."""
        return issue_local_token(
            self.env["SAMSPIL_AUTH_SECRET"],
            subject=f"{role.value}-1",
            roles=[role],
            team=team,
            name="Kim Testesen",
            audience=DEPARTMENT_AUDIENCES[department or DEPARTMENT_OF_ROLE[role]],
        )

    def employment(self, role: Role = Role.EMPLOYMENT_CASEWORKER) -> httpx.AsyncClient:
        """The employment service's API, as a caseworker's case system calls it."""
        return self.staff_client("employment", role)

    def social(self, role: Role = Role.SOCIAL_CASEWORKER) -> httpx.AsyncClient:
        return self.staff_client("social", role, SOCIAL_TEAM)

    def staff_client(self, service: str, role: Role, team: str = EMPLOYMENT_TEAM) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url(service),
            headers={"authorization": f"Bearer {self.caseworker_token(role, team, service)}"},
            timeout=30,
        )

    async def enrol(self, cpr: str | None = None, **profile: Any) -> str:
        """Enrol a shared citizen at the jobcenter; their pseudonymous reference."""
        async with self.employment() as employment:
            response = await employment.post(
                "/v1/citizens",
                json={"cpr": cpr or random_cpr(), "target_group": "kontanthjaelp", **profile},
            )
        assert response.status_code in (200, 201), response.text
        citizen_ref: str = response.json()["citizen_ref"]
        return citizen_ref

    async def enrol_in_both(self, **profile: Any) -> str:
        """A shared citizen, enrolled by the same CPR number in both departments."""
        cpr = random_cpr()
        citizen_ref = await self.enrol(cpr, **profile)
        async with self.social() as social:
            response = await social.post("/v1/citizens", json={"cpr": cpr})
        assert response.status_code == 201 and response.json()["citizen_ref"] == citizen_ref, response.text
        return citizen_ref

    def specialist_unit(self) -> httpx.AsyncClient:
        return self.staff_client("social", Role.SPECIALIST_UNIT, "Fælles specialenhed")

    def add_provider(self, provider_id: str) -> tuple[str, str]:
        out = self.samspil("provider", "add", provider_id)
        fields = dict(
            line.split(":", 1) for line in out.splitlines() if ":" in line and not line.startswith("(")
        )
        return fields["client_id"].strip(), fields["client_secret"].strip()


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Where the stack's services export their spans (OTLP/HTTP), for the tests to read."""
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """The identity provider the stack's provider portal offers login through (OpenID Connect)."""
    with running_oidc_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def running_stack(
    infra: Infra,
    tmp_path_factory: pytest.TempPathFactory,
    otlp_receiver: OtlpReceiver,
    oidc_provider: OidcProvider,
) -> Iterator[RunningStack]:
    """All three services as separate processes, on the test run's broker and databases,
    exporting their spans to the test's OTLP receiver; the provider portal logs in through the
    test's OpenID Connect provider too."""
    env = {
        **os.environ,
        **infra.client_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds: spans reach the receiver soon
        "PROVIDER_GATEWAY_TOKEN_SECRET": secrets.token_urlsafe(48),
        "SAMSPIL_AUTH_SECRET": secrets.token_urlsafe(48),
        "SAMSPIL_CITIZEN_REF_KEY": secrets.token_urlsafe(48),
        "EMPLOYMENT_CONTACT_COURSE_SCAN_SECONDS": "0.5",
        "EMPLOYMENT_KPI_GAUGE_SECONDS": "0.5",
        "SOCIAL_KPI_GAUGE_SECONDS": "0.5",
        "SAMSPIL_LOG_LEVEL": "info",
        "PROVIDER_GATEWAY_PORTAL_OIDC_ISSUER": oidc_provider.issuer,
        "PROVIDER_GATEWAY_PORTAL_OIDC_CLIENT_ID": oidc_provider.client_id,
        "PROVIDER_GATEWAY_PORTAL_OIDC_CLIENT_SECRET": oidc_provider.client_secret,
    }
    for spec in SERVICES:
        # Each service as its own role, no superuser, as in production.
        env[f"{spec.env_prefix}DATABASE_URL"] = infra.create_service_database(spec.database)
    state_dir: Path = tmp_path_factory.mktemp("stack")
    stack = LocalStack(
        state_dir=state_dir, env=env, service_ports={spec.name: free_port() for spec in SERVICES}
    )
    try:
        stack.start(timeout=90)
        running = RunningStack(stack, env, admin_dsn=infra.admin_dsn)
        running.protect_audit_tables(infra.admin_dsn)
        yield running
    finally:
        stack.stop()
