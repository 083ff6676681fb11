"""Schemathesis against the OpenAPI documents of the provider gateway and the departments' services:
generated requests, valid and invalid, never get a server error, and every response matches
what the document says."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from samspil.runtime.auth import Role
from tests.e2e.conftest import SOCIAL_TEAM, RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.support import wait_for

pytestmark = pytest.mark.e2e

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


@pytest.mark.parametrize("service", ["provider-gateway", "employment", "social"])
async def test_no_server_error_and_every_response_as_documented(
    running_stack: RunningStack, service: str
) -> None:
    if service == "provider-gateway":
        provider = f"fuzz-{uuid.uuid4().hex[:6]}"
        referral_id = await refer(running_stack, provider)
        async with provider_client(running_stack, provider) as gateway:
            await wait_for(lambda: visible_to_provider(gateway, referral_id))
            token = gateway.headers["authorization"]
    elif service == "employment":
        token = f"Bearer {running_stack.caseworker_token()}"
    else:
        token = f"Bearer {running_stack.caseworker_token(Role.SOCIAL_CASEWORKER, SOCIAL_TEAM)}"
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = await asyncio.to_thread(
        subprocess.run,
        [
            str(schemathesis),
            "run",
            f"{running_stack.url(service)}/openapi.json",
            "--header",
            f"Authorization: {token}",
            "--checks",
            CHECKS,
            # The coverage phase crashes inside schemathesis 4.32 on Python 3.11 (an AST recursion
            # SystemError, CPython gh-106905), and so did the fuzzing phase once with two workers:
            # one worker.
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--seed",
            "20261122",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-3000:]
