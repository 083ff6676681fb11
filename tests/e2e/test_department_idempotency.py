"""The departments' APIs honour an Idempotency-Key as the gateway does: the same request again
gets the first answer and creates nothing new, another request with the key is refused, and keys
are per caller. Without a key a POST works as it always has."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from samspil.runtime.auth import DEPARTMENT_AUDIENCES, Role, issue_local_token
from tests.e2e.conftest import EMPLOYMENT_TEAM, RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.e2e.test_task_actions import CLOSE, REPORT_BODY, one_task
from tests.support import wait_for

pytestmark = pytest.mark.e2e


def referral_body(subject: str, title: str = "Aktiveringsforløb, 10 timer om ugen") -> dict[str, Any]:
    return {
        "citizen_ref": subject,
        "provider_id": f"forloeb-{uuid.uuid4().hex[:6]}",
        "offer": {"kind": "activation", "title": title, "hours_per_week": 10, "starts_on": "2026-12-01"},
        "citizen_display_name": "Testborger Idem",
        "jobcenter_contact": {"name": "Kim Testesen"},
    }


async def referrals_of(stack: RunningStack, subject: str) -> int:
    conn = await asyncpg.connect(stack.env["EMPLOYMENT_DATABASE_URL"])
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM referral WHERE citizen_ref = $1", subject)
        return count
    finally:
        await conn.close()


async def test_the_same_referral_sent_twice_with_one_key_creates_one_referral(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol()
    body = referral_body(subject)
    key = {"Idempotency-Key": f"henvisning-{uuid.uuid4()}"}
    async with running_stack.employment() as employment:
        first = await employment.post("/v1/referrals", json=body, headers=key)
        again = await employment.post("/v1/referrals", json=body, headers=key)
        changed = {**body, "citizen_display_name": "Testborger Anden"}
        other = await employment.post("/v1/referrals", json=changed, headers=key)
        unkeyed = await employment.post("/v1/referrals", json=body)

    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert unkeyed.status_code == 201 and unkeyed.json() != first.json()
    assert await referrals_of(running_stack, subject) == 2  # the keyed one once, the unkeyed one


async def test_a_key_is_the_callers_own(running_stack: RunningStack) -> None:
    subject = await running_stack.enrol()
    body = referral_body(subject)
    key = {"Idempotency-Key": "the-same-words-two-callers-chose"}
    other_token = issue_local_token(
        running_stack.env["SAMSPIL_AUTH_SECRET"],
        subject="another-caseworker",
        roles=[Role.EMPLOYMENT_CASEWORKER],
        team=EMPLOYMENT_TEAM,
        name="Alex Andersen",
        audience=DEPARTMENT_AUDIENCES["employment"],
    )
    async with running_stack.employment() as employment:
        mine = await employment.post("/v1/referrals", json=body, headers=key)
    async with httpx.AsyncClient(
        base_url=running_stack.url("employment"), headers={"authorization": f"Bearer {other_token}"}
    ) as employment:
        theirs = await employment.post("/v1/referrals", json=body, headers=key)

    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json() != theirs.json()
    assert await referrals_of(running_stack, subject) == 2


async def test_a_keyed_answer_shows_the_change_it_made_and_is_given_again(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol()
    async with running_stack.employment() as employment:
        created = await employment.post("/v1/referrals", json=referral_body(subject))
        path = f"/v1/referrals/{created.json()['referral_id']}/withdraw"
        key = {"Idempotency-Key": uuid.uuid4().hex}
        withdrawn = await employment.post(path, json={"reason": "Borgeren er flyttet."}, headers=key)
        again = await employment.post(path, json={"reason": "Borgeren er flyttet."}, headers=key)
        unkeyed_again = await employment.post(path, json={"reason": "Borgeren er flyttet."})

    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled"
    assert again.headers["idempotent-replayed"] == "true" and again.json() == withdrawn.json()
    assert unkeyed_again.status_code == 409  # the work was done once; only the key gives its answer


async def test_a_social_note_sent_twice_with_one_key_is_written_once(running_stack: RunningStack) -> None:
    subject = await running_stack.enrol_in_both()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    note = {"text": "Ringede til borgeren; aftalt hjemmebesøg."}
    async with running_stack.social() as social:
        first = await social.post(f"/v1/citizens/{subject}/notes", json=note, headers=key)
        again = await social.post(f"/v1/citizens/{subject}/notes", json=note, headers=key)
        other = await social.post(f"/v1/citizens/{subject}/notes", json={"text": "Noget andet."}, headers=key)
        spaced = {"Idempotency-Key": "mellemrum er ikke tilladt"}
        malformed = await social.post(f"/v1/citizens/{subject}/notes", json=note, headers=spaced)
        notes = (await social.get(f"/v1/citizens/{subject}/notes")).json()["items"]

    assert first.status_code == again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    assert malformed.status_code == 422
    assert [error["field"] for error in malformed.json()["errors"]] == ["header.Idempotency-Key"]
    texts = [row["text"] for row in notes]
    assert texts == [note["text"]]


async def test_a_social_task_assigned_and_closed_twice_with_one_key_each_changes_it_once(
    running_stack: RunningStack,
) -> None:
    subject = await running_stack.enrol_in_both()
    provider = f"socidem-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway, running_stack.social() as social:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        body = REPORT_BODY["readiness-reports", "ready-for-further-offers"]
        sent = await gateway.post(f"/v1/referrals/{referral_id}/readiness-reports", json=body)
        assert sent.status_code == 202, sent.text
        task = await one_task(running_stack, "social", subject, "ready-for-further-offers")
        path = f"/v1/tasks/{task['task_id']}"
        assign_key = {"Idempotency-Key": uuid.uuid4().hex}
        assigned = await social.post(f"{path}/assign", json={"assignee": "Sanne"}, headers=assign_key)
        assigned_again = await social.post(f"{path}/assign", json={"assignee": "Sanne"}, headers=assign_key)
        reused = await social.post(f"{path}/assign", json={"assignee": "Bo"}, headers=assign_key)
        close_key = {"Idempotency-Key": uuid.uuid4().hex}
        closed = await social.post(f"{path}/close", json=CLOSE, headers=close_key)
        closed_again = await social.post(f"{path}/close", json=CLOSE, headers=close_key)
        unkeyed_again = await social.post(f"{path}/close", json=CLOSE)
        shown = (await social.get(path)).json()

    assert assigned.status_code == 200 and assigned.json()["assignee"] == "Sanne"
    assert assigned_again.headers["idempotent-replayed"] == "true"
    assert assigned_again.json() == assigned.json()
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"  # the answer shows it
    assert closed_again.headers["idempotent-replayed"] == "true"
    assert closed_again.json() == closed.json()
    assert unkeyed_again.status_code == 409  # closed once; only the key gives its answer again
    assert (shown["assignee"], shown["status"]) == ("Sanne", "closed")
