"""Webhooks through the running stack: a provider registers an endpoint with its own token; the
jobcenter refers a citizen and then withdraws the referral; the gateway's own delivery worker
pushes both to the provider's receiver (a real HTTP server), in order, signed per Standard
Webhooks, with no CPR number nor citizen reference in them."""

from __future__ import annotations

import uuid

import pytest
import standardwebhooks

from schemas.cpr import contains_cpr
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.support import wait_for, webhook_receiver

pytestmark = pytest.mark.e2e


async def test_a_referral_and_its_withdrawal_are_pushed_to_the_providers_endpoint_in_order(
    running_stack: RunningStack,
) -> None:
    provider = f"webhooks-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    async with webhook_receiver() as receiver, provider_client(running_stack, provider) as gateway:
        registered = await gateway.post(
            "/v1/webhooks",
            json={"url": receiver.url, "event_kinds": ["referral-requested", "referral-cancelled"]},
        )
        assert registered.status_code == 201, registered.text
        endpoint = registered.json()
        receiver.script = ["fail"]  # the first attempt fails; the worker tries again

        referral_id = await refer(running_stack, provider, subject)
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        async with running_stack.employment() as employment:
            withdrawn = await employment.post(
                f"/v1/referrals/{referral_id}/withdraw", json={"reason": "Flyttet til anden kommune."}
            )
            assert withdrawn.status_code == 200, withdrawn.text

        # The retry is due after the first backoff (5 s by default); the worker polls each second.
        async def both_delivered() -> bool:
            return len(receiver.delivered()) >= 2

        await wait_for(both_delivered, timeout=60)

        verifier = standardwebhooks.Webhook(endpoint["secret"])
        events = [verifier.verify(body, headers) for headers, body in receiver.delivered()]
        assert [event["data"]["kind"] for event in events] == ["referral-requested", "referral-cancelled"]
        assert {event["subject"] for event in events} == {f"referrals/{referral_id}"}
        for _, body, _ in receiver.requests:
            assert not contains_cpr(body.decode()) and subject not in body.decode()
        assert events[1]["data"]["data"] == {"reason": "Flyttet til anden kommune.", "reason_category": None}

        # The worker records a delivery after the receiver's answer, so the receiver can see the
        # second request a moment before the listing says it was delivered.
        async def both_recorded() -> list[dict[str, object]] | None:
            listed = await gateway.get(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries")
            items: list[dict[str, object]] = listed.json()["items"]
            return items if [d["status"] for d in items] == ["delivered", "delivered"] else None

        items = await wait_for(both_recorded, timeout=10)
        assert [d["attempts"] for d in items] == [1, 2]  # newest first
