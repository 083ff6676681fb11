"""On the citizen's specific consent the social department shares their social measures with the
provider of their offer; the provider sees them on its referral, and only while the consent is in
force. A withdrawal propagates: the gateway's copy goes and the provider's view shrinks at once.

The social department's events are produced here as its service publishes them, so these tests
prove the gateway's side on its own."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from samspil.runtime.codec import Record, encode
from schemas.base import EventData
from schemas.consent import MeasuresSharedWithProvider, ProviderShareEnded, SharedMeasure, ShareEndReason
from schemas.envelope import Envelope
from schemas.plans import MeasureCategory
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import produce, wait_for

pytestmark = pytest.mark.e2e

TREATMENT = SharedMeasure(
    category=MeasureCategory.MENTAL_HEALTH_TREATMENT,
    starts_on=date(2026, 11, 1),
    ends_on=date(2027, 1, 31),
    compatible_with_activation=False,
)
HOUSING = SharedMeasure(category=MeasureCategory.HOUSING_SUPPORT, starts_on=date(2026, 10, 1))
MENTOR = SharedMeasure(
    category=MeasureCategory.MENTOR, starts_on=date(2026, 12, 1), ends_on=date(2027, 6, 30)
)
IN_A_YEAR = date.today() + timedelta(days=365)
# The day the withdrawn shares end: one date for the whole run, so a test that runs over midnight
# compares what it sent with what it sent.
ENDED_ON = date.today()


def as_social_publishes(subject: str, event: EventData, consent_id: uuid.UUID, **envelope: Any) -> Record:
    """The record as the social service puts it on its events topic, under the consent."""
    return encode(
        Envelope(
            source="/samspil/social",
            type=event.event_type,
            subject=subject,
            dataschema=event.dataschema,
            correlationid=uuid.uuid4(),
            **{"legalbasis": f"consent:{consent_id}", **envelope},
        ),
        event,
    )


def shared(
    subject: str,
    consent_id: uuid.UUID,
    provider_id: str,
    measures: list[SharedMeasure],
    *,
    plan_version: int = 1,
    shared_until: date = IN_A_YEAR,
    **envelope: Any,
) -> Record:
    event = MeasuresSharedWithProvider(
        consent_id=consent_id,
        provider_id=provider_id,
        plan_version=plan_version,
        measures=measures,
        shared_until=shared_until,
    )
    return as_social_publishes(subject, event, consent_id, **envelope)


def ended(subject: str, consent_id: uuid.UUID, provider_id: str) -> Record:
    event = ProviderShareEnded(
        consent_id=consent_id, provider_id=provider_id, ended_on=ENDED_ON, reason=ShareEndReason.WITHDRAWN
    )
    return as_social_publishes(subject, event, consent_id)


def as_seen(*measures: SharedMeasure) -> list[dict[str, Any]]:
    return [measure.model_dump(mode="json") for measure in measures]


async def measures_seen(gateway: httpx.AsyncClient, referral_id: str) -> list[dict[str, Any]]:
    referral = await visible_to_provider(gateway, referral_id)
    assert referral is not None
    measures: list[dict[str, Any]] = referral["shared_social_measures"]
    return measures


async def until_seen(gateway: httpx.AsyncClient, referral_id: str, expected: list[dict[str, Any]]) -> None:
    """Wait until the provider sees exactly these measures (earliest first)."""

    async def seen() -> bool:
        return await measures_seen(gateway, referral_id) == expected

    await wait_for(seen)


async def test_the_provider_sees_the_measures_shared_with_it_and_another_provider_of_the_citizen_none(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider, other = f"samtykke-{uuid.uuid4().hex[:6]}", f"andet-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    other_referral_id = await refer(running_stack, other, subject)
    async with (
        provider_client(running_stack, provider) as gateway,
        provider_client(running_stack, other) as rival,
    ):
        referral = await wait_for(lambda: visible_to_provider(gateway, referral_id))
        await wait_for(lambda: visible_to_provider(rival, other_referral_id))
        assert referral["shared_social_measures"] == []

        await produce(infra.bootstrap_servers, shared(subject, uuid.uuid4(), provider, [TREATMENT, HOUSING]))
        await until_seen(gateway, referral_id, as_seen(HOUSING, TREATMENT))

        referral = await visible_to_provider(gateway, referral_id)
        assert referral is not None
        assert set(referral) == {
            "referral_id",
            "status",
            "offer_title",
            "hours_per_week",
            "starts_on",
            "expected_end_on",
            "citizen_display_name",
            "updated_at",
            "jobcenter_contact",
            "status_history",
            "shared_social_measures",
            "reporting_interval_days",
            "progress_report_due_on",
            "progress_report_overdue_since",
        }
        assert referral["shared_social_measures"][1] == {
            "category": "mental-health-treatment",
            "starts_on": "2026-11-01",
            "ends_on": "2027-01-31",
            "compatible_with_activation": False,
        }
        # The other provider holds a referral for the same citizen, but no consent names it.
        assert await measures_seen(rival, other_referral_id) == []
        # The list of referrals keeps its shape: the measures are on the referral alone.
        listed = (await gateway.get("/v1/referrals")).json()["items"]
        assert all("shared_social_measures" not in item for item in listed)


async def test_a_withdrawn_consent_empties_the_view_at_once_and_a_share_published_again_does_not_revive_it(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"tilbage-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    withdrawn, later = uuid.uuid4(), uuid.uuid4()
    share = shared(subject, withdrawn, provider, [TREATMENT])
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        await produce(infra.bootstrap_servers, share)
        await until_seen(gateway, referral_id, as_seen(TREATMENT))

        await produce(infra.bootstrap_servers, ended(subject, withdrawn, provider))
        await until_seen(gateway, referral_id, [])

        # The same record redelivered, the same share published anew under a new event id, and
        # then a share under another consent: same topic and citizen, so handled in this order.
        await produce(
            infra.bootstrap_servers,
            share,
            shared(subject, withdrawn, provider, [TREATMENT], plan_version=2),
            ended(subject, withdrawn, provider),
            shared(subject, later, provider, [MENTOR]),
        )
        await until_seen(gateway, referral_id, as_seen(MENTOR))

    conn = await asyncpg.connect(running_stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        copy = await conn.fetchrow(
            "SELECT measures, ended_on, end_reason FROM provider_share WHERE consent_id = $1", withdrawn
        )
    finally:
        await conn.close()
    # The gateway's copy of the withdrawn share is gone; only the fact that it ended remains.
    assert copy is not None and json.loads(copy["measures"]) == []
    assert (copy["ended_on"], copy["end_reason"]) == (ENDED_ON, "withdrawn")


async def test_a_later_plan_version_replaces_the_share_and_an_older_one_arriving_late_is_ignored(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"version-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    consent, marker = uuid.uuid4(), uuid.uuid4()
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        await produce(
            infra.bootstrap_servers, shared(subject, consent, provider, [TREATMENT, HOUSING], plan_version=2)
        )
        await until_seen(gateway, referral_id, as_seen(HOUSING, TREATMENT))

        await produce(infra.bootstrap_servers, shared(subject, consent, provider, [HOUSING], plan_version=3))
        await until_seen(gateway, referral_id, as_seen(HOUSING))

        await produce(
            infra.bootstrap_servers,
            shared(subject, consent, provider, [TREATMENT, HOUSING], plan_version=2),
            shared(subject, marker, provider, [MENTOR]),
        )
        await until_seen(gateway, referral_id, as_seen(HOUSING, MENTOR))


async def test_a_share_past_its_date_without_its_consent_as_basis_or_for_another_provider_is_not_shown(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"graense-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    expired, marker = uuid.uuid4(), uuid.uuid4()
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        # A consent runs out on its expiry date, as the social department counts it.
        danish_today = datetime.now(ZoneInfo("Europe/Copenhagen")).date()
        await produce(
            infra.bootstrap_servers,
            shared(subject, expired, provider, [TREATMENT], shared_until=danish_today - timedelta(days=2)),
            shared(subject, uuid.uuid4(), provider, [TREATMENT], shared_until=danish_today),
            shared(subject, uuid.uuid4(), provider, [HOUSING], legalbasis="statute:serviceloven-141"),
            shared(subject, uuid.uuid4(), "en-anden-leverandoer", [HOUSING]),
            shared(subject, marker, provider, [MENTOR]),
        )
        await until_seen(gateway, referral_id, as_seen(MENTOR))
