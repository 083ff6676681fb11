"""What a provider reads, for the API's GETs and the portal's pages alike: both call these, so a
provider sees the same in either and the same rules hold (its own referrals and submissions only;
someone else's is answered as missing, never told apart from one that does not exist)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import asyncpg

from provider_gateway.adapters import portal_reading, repository
from provider_gateway.domain.inbox import InboxTab, name_query
from provider_gateway.domain.shares import measures_in_view
from provider_gateway.service_layer.views import (
    Acknowledgement,
    ReferralDetail,
    ReferralOut,
    SharedSocialMeasure,
    StatusChange,
    SubmissionOut,
    SubmissionStates,
)
from samspil.runtime.db import Connection

Reader: TypeAlias = "Connection | asyncpg.Pool"
DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def danish_today() -> date:
    """Today in Denmark, where the referrals' dates are kept."""
    return datetime.now(UTC).astimezone(DANISH_TIME).date()


def referral_out(row: Any) -> ReferralOut:
    return ReferralOut(**{name: row[name] for name in ReferralOut.model_fields})


@dataclass(frozen=True)
class FoundReferral:
    detail: ReferralDetail
    citizen_ref: str
    """For the audit row only: never shown."""


async def referral_detail(
    pool: Reader, provider_id: str, referral_id: uuid.UUID, today: date
) -> FoundReferral | None:
    """The referral with its status history, the jobcenter contact and the social measures
    shared with the provider on a consent in force ``today``; None unless it is the provider's."""
    row = await repository.referral_for_provider(pool, referral_id, provider_id)
    if row is None:
        return None
    history = [StatusChange.of(dict(change)) for change in await repository.status_history(pool, referral_id)]
    shares = await repository.measures_shared_with(pool, row["citizen_ref"], provider_id, today)
    contact = json.loads(row["jobcenter_contact"]) if row["jobcenter_contact"] else None
    detail = ReferralDetail(
        **referral_out(row).model_dump(),
        jobcenter_contact=contact,
        status_history=history,
        shared_social_measures=[SharedSocialMeasure(**measure) for measure in measures_in_view(shares)],
    )
    return FoundReferral(detail, row["citizen_ref"])


async def submission_detail(pool: Reader, provider_id: str, submission_id: uuid.UUID) -> SubmissionOut | None:
    """Where the provider's submission stands and what the departments did with it; None unless
    it is the provider's."""
    row = await repository.submission_for_provider(pool, submission_id, provider_id)
    if row is None:
        return None
    return SubmissionOut(
        **{name: row[name] for name in ("submission_id", "referral_id", "kind", "status")},
        reached=SubmissionStates(
            received=row["received_at"],
            delivered=row["delivered_at"],
            acted_on=row["acted_on_at"],
            final=row["final_at"],
        ),
        acknowledgements=[Acknowledgement(**entry) for entry in json.loads(row["acknowledgements"])],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True)
class Citizen:
    display_name: str
    """How the provider addresses the citizen."""
    citizen_ref: str
    """For the audit row of a page about them."""


async def citizen_of(pool: Reader, provider_id: str, referral_id: uuid.UUID) -> Citizen | None:
    """The citizen of the provider's referral; None unless it is the provider's."""
    row = await portal_reading.citizen_of(pool, provider_id, referral_id)
    return Citizen(row["citizen_display_name"], row["citizen_ref"]) if row else None


@dataclass(frozen=True)
class InboxPage:
    items: list[ReferralOut]
    next_before: tuple[datetime, uuid.UUID] | None
    """The key to pass as ``before`` for the next page; None on the last."""


async def inbox(
    pool: Reader,
    provider_id: str,
    *,
    tab: InboxTab | None,
    search: str,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> InboxPage:
    """The provider's referrals, newest change first: one tab or all, matching the name searched
    for (nothing searchable typed: no filter)."""
    rows = await portal_reading.inbox_page(
        pool,
        provider_id,
        tab=tab.value if tab else None,
        name_query=name_query(search),
        before=before,
        limit=limit + 1,
    )
    shown = rows[:limit]
    after = (shown[-1]["updated_at"], shown[-1]["referral_id"]) if len(rows) > limit else None
    return InboxPage([referral_out(row) for row in shown], after)


@dataclass(frozen=True)
class SentReport:
    submission_id: uuid.UUID
    kind: str
    status: str
    received_at: datetime
    updated_at: datetime


REPORTS_SHOWN = 100


async def reports_on_referral(pool: Reader, provider_id: str, referral_id: uuid.UUID) -> list[SentReport]:
    """The reports the provider sent on its referral, newest first (the latest hundred)."""
    rows = await portal_reading.submissions_for_referral(pool, provider_id, referral_id, REPORTS_SHOWN)
    return [SentReport(**dict(row)) for row in rows]


@dataclass(frozen=True)
class Notification:
    seq: int
    kind: str
    referral_id: uuid.UUID | None
    submission_id: uuid.UUID | None
    data: dict[str, Any]
    at: datetime
    citizen_display_name: str | None
    new: bool


@dataclass(frozen=True)
class WhatChanged:
    new: list[Notification]
    """Since the person's last visit, newest first (at most NEW_SHOWN)."""
    more_new: bool
    """More came than are shown."""
    earlier: list[Notification]
    """What they had seen already, newest first (a few, for context)."""


NEW_SHOWN = 50
EARLIER_SHOWN = 10


async def mark_seen(pool: Reader, person_id: uuid.UUID, provider_id: str, up_to: int) -> None:
    """The person has seen their provider's feed up to position ``up_to``, the newest the start
    page showed them (should more have come than it shows, the rest are older: they show among
    the earlier ones next time). Only as far as the provider's feed goes: a larger number posted
    by hand marks no more than there is."""
    newest = await portal_reading.feed_up_to(pool, provider_id, up_to, 1)
    if newest:
        await portal_reading.mark_seen(pool, person_id, provider_id, newest[0]["seq"])


async def what_changed(pool: Reader, person_id: uuid.UUID, provider_id: str) -> WhatChanged:
    """The provider's feed as the person's notifications: what came since they last marked them
    seen (`mark_seen`), and a few they had seen. Reading marks nothing: a link from another site
    to the start page must not clear what is new."""
    seen = await portal_reading.seen_position(pool, person_id, provider_id)
    fresh = await portal_reading.feed_after(pool, provider_id, seen, NEW_SHOWN + 1)
    earlier = await portal_reading.feed_up_to(pool, provider_id, seen, EARLIER_SHOWN) if seen else []
    shown = fresh[:NEW_SHOWN]
    referral_ids = list({row["referral_id"] for row in [*shown, *earlier] if row["referral_id"]})
    names = await portal_reading.display_names(pool, provider_id, referral_ids) if referral_ids else {}

    def notification(row: Any, new: bool) -> Notification:
        return Notification(
            **{**dict(row), "data": json.loads(row["data"])},
            citizen_display_name=names.get(row["referral_id"]),
            new=new,
        )

    return WhatChanged(
        new=[notification(row, True) for row in shown],
        more_new=len(fresh) > NEW_SHOWN,
        earlier=[notification(row, False) for row in earlier],
    )
