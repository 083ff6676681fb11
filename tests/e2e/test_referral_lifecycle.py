"""The referral lifecycle end to end: the provider's steps through the gateway reach the
jobcenter, the social department learns which offer started, and a withdrawal by the jobcenter
reaches the provider; illegal steps answer 409 with the current state."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest

from schemas.topics import EMPLOYMENT_EVENTS
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import read_topic, wait_for

pytestmark = pytest.mark.e2e


async def employment_status(stack: RunningStack, referral_id: str, status: str) -> dict[str, Any] | None:
    async with stack.employment() as employment:
        referral = (await employment.get(f"/v1/referrals/{referral_id}")).json()
    return referral if referral.get("status") == status else None


async def test_the_providers_steps_reach_the_jobcenter_and_illegal_ones_are_refused(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"forloeb-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))

        early = await gateway.post(f"/v1/referrals/{referral_id}/start", json={})
        assert early.status_code == 409 and early.json()["current_status"] == "requested"
        assert (await gateway.post(f"/v1/referrals/{referral_id}/accept", json={})).json()[
            "status"
        ] == "accepted"
        started = await gateway.post(f"/v1/referrals/{referral_id}/start", json={"occurred_on": "2026-12-01"})
        assert started.json()["status"] == "in-progress"

        no_reason = await gateway.post(f"/v1/referrals/{referral_id}/hold", json={})
        assert no_reason.status_code == 422
        assert [error["field"] for error in no_reason.json()["errors"]] == ["body.reason"]
        held = await gateway.post(f"/v1/referrals/{referral_id}/hold", json={"reason": "Indlagt i tre uger."})
        assert held.json()["status"] == "on-hold"
        assert (await gateway.post(f"/v1/referrals/{referral_id}/resume", json={})).json()[
            "status"
        ] == "in-progress"
        done = await gateway.post(
            f"/v1/referrals/{referral_id}/complete", json={"outcome": "Gennemført; klar til praktik."}
        )
        assert done.json()["status"] == "completed"

        closed = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices", json={"absent_from": "2026-12-02"}
        )
        assert closed.status_code == 409 and closed.json()["current_status"] == "completed"
        detail = (await gateway.get(f"/v1/referrals/{referral_id}")).json()
        assert [step["status"] for step in detail["status_history"]] == [
            "requested",
            "accepted",
            "in-progress",
            "on-hold",
            "in-progress",
            "completed",
        ]

    referral = await wait_for(lambda: employment_status(running_stack, referral_id, "completed"))
    assert [step["status"] for step in referral["status_history"]] == [
        "requested",
        "accepted",
        "in-progress",
        "on-hold",
        "in-progress",
        "completed",
    ]
    assert referral["status_history"][3]["reason"] == "Indlagt i tre uger."

    # The social department is told which offer started, and only what it needs.
    async def offer_started() -> list[Any]:
        records = await read_topic(infra.bootstrap_servers, EMPLOYMENT_EVENTS.name)
        return [
            r
            for r in records
            if r[0] == subject.encode() and b"offer.started" in dict(r[2]).get("ce_type", b"")
        ]

    [(_, value, _)] = await wait_for(offer_started)
    assert referral_id.encode() in value and b"2026-12-01" in value


async def test_a_referral_withdrawn_by_the_jobcenter_is_cancelled_for_the_provider(
    running_stack: RunningStack,
) -> None:
    provider = f"trukket-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        async with running_stack.employment() as employment:
            withdrawn = await employment.post(
                f"/v1/referrals/{referral_id}/withdraw",
                json={"reason": "Borgeren er overgået til sygedagpenge."},
            )
            assert withdrawn.json()["status"] == "cancelled"
            again = await employment.post(f"/v1/referrals/{referral_id}/withdraw", json={"reason": "igen"})
            assert again.status_code == 409

        async def cancelled() -> dict[str, Any] | None:
            referral = await visible_to_provider(gateway, referral_id)
            return referral if referral and referral["status"] == "cancelled" else None

        referral = await wait_for(cancelled)
        assert referral["status_history"][-1]["changed_by"] == "jobcenter"
        refused = await gateway.post(f"/v1/referrals/{referral_id}/accept", json={})
        assert refused.status_code == 409 and refused.json()["current_status"] == "cancelled"


async def test_referrals_are_listed_by_status_a_page_at_a_time(running_stack: RunningStack) -> None:
    provider = f"sider-{uuid.uuid4().hex[:6]}"
    referral_ids = [await refer(running_stack, provider) for _ in range(5)]
    async with provider_client(running_stack, provider) as gateway:
        for referral_id in referral_ids:
            await wait_for(functools.partial(visible_to_provider, gateway, referral_id))
        await gateway.post(f"/v1/referrals/{referral_ids[0]}/accept", json={})

        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await gateway.get("/v1/referrals", params=params)).json()
            seen += [item["referral_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(referral_ids) and len(seen) == 5

        accepted = (await gateway.get("/v1/referrals", params={"status": "accepted"})).json()["items"]
        assert [item["referral_id"] for item in accepted] == [referral_ids[0]]
        bad_cursor = await gateway.get("/v1/referrals", params={"cursor": "bm90LWEtY3Vyc29y"})
        assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "query.cursor"
