"""Gateway handlers: record what providers send, keep the referral view up to date."""

from __future__ import annotations

import uuid

from provider_gateway.adapters import repository
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.referrals import CLOSED_STATUSES, ReferralRequested

SOURCE = "/samspil/provider-gateway"


class ReferralNotFound(Exception):
    """No such referral for this provider (whether it exists for another is not told)."""


class ReferralClosed(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def record_referral(conn: Connection, envelope: Envelope, referral: ReferralRequested) -> None:
    await repository.upsert_referral(conn, envelope.subject, referral)


async def submit_absence_notice(conn: Connection, provider_id: str, notice: AbsenceNoticeSubmitted) -> None:
    """Record the provider's absence notice and put it in the outbox, in one transaction."""
    referral = await repository.referral_for_provider(conn, notice.referral_id, provider_id, lock=True)
    if referral is None:
        raise ReferralNotFound
    if referral["status"] in CLOSED_STATUSES:
        raise ReferralClosed(referral["status"])
    await repository.insert_submission(
        conn, notice.submission_id, provider_id, notice.referral_id, "absence-notice"
    )
    envelope = Envelope(
        source=SOURCE,
        type=notice.event_type,
        subject=referral["citizen_ref"],
        dataschema=notice.dataschema,
        correlationid=notice.submission_id,
    )
    await add_event(conn, envelope, notice)


def new_submission_id() -> uuid.UUID:
    return uuid.uuid4()
