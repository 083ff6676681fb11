"""Staff tokens against the running services: each department accepts only its own audience."""

from __future__ import annotations

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
