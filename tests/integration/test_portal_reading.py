"""What the provider portal reads, on the real PostgreSQL through the gateway's own handlers:
the inbox's tabs (as the domain names them) and its search by name, paged newest change first;
the start page's notifications, new only once per person; and nothing of another provider's."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest

from provider_gateway.adapters import repository
from provider_gateway.domain.inbox import InboxTab, tab_of
from provider_gateway.service_layer import handlers, reading
from schemas.common import ContactPerson
from schemas.envelope import Envelope
from schemas.referrals import Offer, OfferKind, ReferralRequested, ReferralStatus

PROVIDER, OTHER = "dagcenter-syd", "skole-vest"


async def referred(pool: asyncpg.Pool, name: str, provider_id: str = PROVIDER) -> uuid.UUID:
    """A referral as the gateway records the jobcenter's event."""
    referral = ReferralRequested(
        referral_id=uuid.uuid4(),
        provider_id=provider_id,
        offer=Offer(
            kind=OfferKind.ACTIVATION, title="Værkstedsforløb", hours_per_week=12, starts_on=date(2027, 1, 4)
        ),
        citizen_display_name=name,
        jobcenter_contact=ContactPerson(name="Kim Testesen", phone="+45 12 34 56 78"),
        reporting_interval_days=28,
    )
    envelope = Envelope(
        source="/samspil/employment",
        type=referral.event_type,
        subject=f"k1:{uuid.uuid4().hex}{uuid.uuid4().hex}",
        dataschema=referral.dataschema,
        correlationid=uuid.uuid4(),
    )
    async with pool.acquire() as conn, conn.transaction():
        await handlers.record_referral(conn, envelope, referral)
    return referral.referral_id


async def moved_to(pool: asyncpg.Pool, referral_id: uuid.UUID, status: ReferralStatus) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await repository.set_referral_status(conn, referral_id, status, "provider", date.today(), "Årsag")


async def test_each_status_is_in_the_tab_the_domain_names_and_the_tabs_read_newest_change_first(
    gateway_pool: asyncpg.Pool,
) -> None:
    by_status = {status: await referred(gateway_pool, f"Borger {status.value}") for status in ReferralStatus}
    for status, referral_id in by_status.items():
        if status is not ReferralStatus.REQUESTED:
            await moved_to(gateway_pool, referral_id, status)
    for tab in InboxTab:
        page = await reading.inbox(gateway_pool, PROVIDER, tab=tab, search="", before=None, limit=50)
        expected = [by_status[status] for status in reversed(ReferralStatus) if tab_of(status) is tab]
        assert [item.referral_id for item in page.items] == expected, tab


async def test_the_inbox_is_paged_newest_change_first_and_a_change_brings_a_referral_to_the_top(
    gateway_pool: asyncpg.Pool,
) -> None:
    ids = [await referred(gateway_pool, f"Borger {n}") for n in range(5)]
    await moved_to(gateway_pool, ids[1], ReferralStatus.ACCEPTED)
    seen, before = [], None
    while True:
        page = await reading.inbox(gateway_pool, PROVIDER, tab=None, search="", before=before, limit=2)
        seen += [item.referral_id for item in page.items]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == [ids[1], ids[4], ids[3], ids[2], ids[0]]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("jens", True),
        ("JENSEN", True),
        ("test jens", True),
        ("  jens,  ", True),
        ("jensen x", False),
        ("ensen", False),
        ("ørum", True),
        ("'&|!:*()", None),  # nothing searchable: no filter, and never a query error
    ],
)
async def test_the_search_matches_each_word_typed_at_the_start_of_a_word_of_the_name(
    gateway_pool: asyncpg.Pool, typed: str, found: bool | None
) -> None:
    wanted = await referred(gateway_pool, "Testborger Jensen Ørum")
    other = await referred(gateway_pool, "Anna Hansen")
    page = await reading.inbox(gateway_pool, PROVIDER, tab=None, search=typed, before=None, limit=10)
    listed = [item.referral_id for item in page.items]
    if found is None:
        assert listed == [other, wanted]
    else:
        assert listed == ([wanted] if found else [])


async def test_another_providers_referrals_and_feed_are_never_read(gateway_pool: asyncpg.Pool) -> None:
    ours = await referred(gateway_pool, "Testborger Jensen")
    theirs = await referred(gateway_pool, "Testborger Jensen", OTHER)
    page = await reading.inbox(gateway_pool, PROVIDER, tab=None, search="jensen", before=None, limit=10)
    assert [item.referral_id for item in page.items] == [ours]
    assert await reading.referral_detail(gateway_pool, PROVIDER, theirs, date.today()) is None
    changed = await reading.what_changed(gateway_pool, uuid.uuid4(), PROVIDER)
    assert [n.referral_id for n in changed.new] == [ours]


async def test_notifications_are_new_once_per_person_and_the_referral_names_its_contact(
    gateway_pool: asyncpg.Pool,
) -> None:
    first = await referred(gateway_pool, "Testborger Jensen")
    kim, sam = uuid.uuid4(), uuid.uuid4()
    seen_by_kim = await reading.what_changed(gateway_pool, kim, PROVIDER)
    assert [(n.kind, n.referral_id, n.citizen_display_name) for n in seen_by_kim.new] == [
        ("referral-requested", first, "Testborger Jensen")
    ]
    # Reading marks nothing: new until marked seen (up to what was shown).
    assert [n.referral_id for n in (await reading.what_changed(gateway_pool, kim, PROVIDER)).new] == [first]
    second = await referred(gateway_pool, "Anna Hansen")
    await reading.mark_seen(gateway_pool, kim, PROVIDER, seen_by_kim.new[0].seq)

    again = await reading.what_changed(gateway_pool, kim, PROVIDER)
    assert [n.referral_id for n in again.new] == [second]
    assert [n.referral_id for n in again.earlier] == [first]
    # Each person marks their own.
    assert [n.referral_id for n in (await reading.what_changed(gateway_pool, sam, PROVIDER)).new] == [
        second,
        first,
    ]
    # A position past the newest (posted by hand) marks no more than the feed holds.
    await reading.mark_seen(gateway_pool, kim, PROVIDER, 2**62)
    assert (await reading.what_changed(gateway_pool, kim, PROVIDER)).new == []
    third = await referred(gateway_pool, "Bo Holm")
    assert [n.referral_id for n in (await reading.what_changed(gateway_pool, kim, PROVIDER)).new] == [third]

    found = await reading.referral_detail(gateway_pool, PROVIDER, first, datetime.now(UTC).date())
    assert found is not None
    assert found.detail.jobcenter_contact == ContactPerson(name="Kim Testesen", phone="+45 12 34 56 78")
    assert [change.status for change in found.detail.status_history] == [ReferralStatus.REQUESTED]
