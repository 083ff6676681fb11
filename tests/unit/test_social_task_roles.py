"""The social team's task routes are the social caseworkers' (the joint specialist
unit rules on disputes; it does not close or hand out the team's tasks, e.g. waive the team's
objection to a jobcenter decision by closing its consider-employment-decision task)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from samspil.runtime.auth import (
    SOCIAL_AUDIENCE,
    Role,
    StaffAuthSettings,
    TokenVerifier,
    install_auth,
    issue_local_token,
)
from social.entrypoints import http as social_http

SECRET = "a-local-secret-long-enough-for-hs256!"


@pytest.mark.parametrize(
    ("path", "body"), [("close", {"note": "Ingen indsigelse"}), ("assign", {"assignee": "Kim"})]
)
async def test_the_specialist_unit_cannot_close_or_assign_the_social_teams_tasks(
    monkeypatch: pytest.MonkeyPatch, path: str, body: dict[str, str]
) -> None:
    monkeypatch.setenv("SAMSPIL_AUTH_SECRET", SECRET)
    app = FastAPI()
    install_auth(app, TokenVerifier.from_settings(StaffAuthSettings(auth_audience=SOCIAL_AUDIENCE)))
    app.include_router(social_http.router)
    token = issue_local_token(
        SECRET,
        subject="unit-1",
        roles=[Role.SPECIALIST_UNIT],
        team="specialist-unit",
        audience=SOCIAL_AUDIENCE,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post(
            f"/v1/tasks/{uuid.uuid4()}/{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 403
