from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from samspil.local.runner import SERVICES, LocalStack, free_port
from tests.infra import Infra


@dataclass
class RunningStack:
    stack: LocalStack
    env: dict[str, str]

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

    def add_provider(self, provider_id: str) -> tuple[str, str]:
        out = self.samspil("provider", "add", provider_id)
        fields = dict(
            line.split(":", 1) for line in out.splitlines() if ":" in line and not line.startswith("(")
        )
        return fields["client_id"].strip(), fields["client_secret"].strip()


@pytest.fixture(scope="session")
def running_stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """All three services as separate processes, on the test run's broker and databases."""
    env = {
        **os.environ,
        **infra.client_env,
        "PROVIDER_GATEWAY_TOKEN_SECRET": secrets.token_urlsafe(48),
        "SAMSPIL_LOG_LEVEL": "info",
    }
    for spec in SERVICES:
        env[f"{spec.env_prefix}DATABASE_URL"] = infra.create_database(spec.database)
    state_dir: Path = tmp_path_factory.mktemp("stack")
    stack = LocalStack(
        state_dir=state_dir, env=env, service_ports={spec.name: free_port() for spec in SERVICES}
    )
    try:
        stack.start(timeout=90)
        yield RunningStack(stack, env)
    finally:
        stack.stop()
