"""Staff tokens and secrets against the running services: each department accepts only its own
audience; each process holds only the secrets it needs; logs are private."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from samspil.runtime.auth import Role
from tests.e2e.conftest import EMPLOYMENT_TEAM, SOCIAL_TEAM, RunningStack
from tests.support import random_cpr

WHAT_TO_DO = "The token was not accepted: get a new token from your identity provider."


@pytest.mark.parametrize(
    ("service", "role", "team", "meant_for"),
    [
        ("social", Role.SOCIAL_CASEWORKER, SOCIAL_TEAM, "employment"),
        ("employment", Role.EMPLOYMENT_CASEWORKER, EMPLOYMENT_TEAM, "social"),
    ],
    ids=["employment-token-at-social", "social-token-at-employment"],
)
async def test_a_token_for_one_department_is_refused_by_the_other(
    running_stack: RunningStack, service: str, role: Role, team: str, meant_for: str
) -> None:
    token = running_stack.caseworker_token(role, team, department=meant_for)
    async with httpx.AsyncClient(base_url=running_stack.url(service), timeout=30) as client:
        refused = await client.post(
            "/v1/citizens",
            json={"cpr": random_cpr(), "target_group": "kontanthjaelp"},
            headers={"authorization": f"Bearer {token}"},
        )
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="samspil", error="invalid_token"'
    assert refused.json()["detail"] == WHAT_TO_DO
    log = (running_stack.stack.logs / f"{service}.log").read_text()
    assert "the token is for another audience" in log
    assert token not in log


def process_environment(running_stack: RunningStack, service: str) -> dict[str, str]:
    """What the service's process was actually started with, as the kernel holds it."""
    pid = running_stack.stack.processes[service].pid
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


async def test_each_service_process_holds_only_the_secrets_it_needs(running_stack: RunningStack) -> None:
    gateway = process_environment(running_stack, "provider-gateway")
    # With the staff token secret the gateway could mint caseworker tokens.
    assert "SAMSPIL_AUTH_SECRET" not in gateway and "SAMSPIL_CITIZEN_REF_KEY" not in gateway
    assert running_stack.env["SAMSPIL_AUTH_SECRET"] not in gateway.values()
    assert not {"EMPLOYMENT_DATABASE_URL", "SOCIAL_DATABASE_URL"} & set(gateway)
    assert gateway["PROVIDER_GATEWAY_TOKEN_SECRET"] == running_stack.env["PROVIDER_GATEWAY_TOKEN_SECRET"]
    for department, other in (("employment", "SOCIAL_DATABASE_URL"), ("social", "EMPLOYMENT_DATABASE_URL")):
        env = process_environment(running_stack, department)
        assert "PROVIDER_GATEWAY_TOKEN_SECRET" not in env and "PROVIDER_GATEWAY_DATABASE_URL" not in env
        assert other not in env
        assert env["SAMSPIL_AUTH_SECRET"] == running_stack.env["SAMSPIL_AUTH_SECRET"]
        assert env["SAMSPIL_CITIZEN_REF_KEY"] == running_stack.env["SAMSPIL_CITIZEN_REF_KEY"]


def test_log_folder_and_service_logs_are_readable_by_their_owner_only(running_stack: RunningStack) -> None:
    logs = running_stack.stack.logs
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    for service in ("provider-gateway", "employment", "social"):
        assert stat.S_IMODE((logs / f"{service}.log").stat().st_mode) == 0o600
