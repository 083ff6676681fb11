"""Handlers: one per command or event, each a plain function on one transaction's connection."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import structlog

from employment.adapters import repository
from employment.domain.tasks import recontact_task_for_absence
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.referrals import ReferralRequested

SOURCE = "/samspil/employment"
# Due dates are Danish working days, whatever the server's clock zone.
DANISH_TIME = ZoneInfo("Europe/Copenhagen")

log = structlog.get_logger("employment.handlers")


async def refer_citizen(
    conn: Connection, citizen_ref: str, referral: ReferralRequested, correlation_id: uuid.UUID
) -> None:
    """Refer a citizen to an offer at a provider; the provider sees it through the gateway."""
    await repository.insert_referral(conn, citizen_ref, referral)
    envelope = Envelope(
        source=SOURCE,
        type=referral.event_type,
        subject=citizen_ref,
        dataschema=referral.dataschema,
        correlationid=correlation_id,
    )
    await add_event(conn, envelope, referral)


async def create_recontact_task(
    conn: Connection, envelope: Envelope, notice: AbsenceNoticeSubmitted, working_days: int
) -> None:
    """An absence notice becomes a 're-contact the citizen' task for the caseworker team."""
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    task = recontact_task_for_absence(received_on, working_days)
    task_id = await repository.insert_task_once(
        conn,
        task,
        citizen_ref=envelope.subject,
        referral_id=notice.referral_id,
        provider_id=notice.provider_id,
        source_event_id=envelope.id,
        source_time=envelope.time,
        details={
            "submission_id": str(notice.submission_id),
            "absent_from": notice.absent_from.isoformat(),
            "absent_to": notice.absent_to.isoformat() if notice.absent_to else None,
            "reason": notice.reason.value,
            "reason_text": notice.reason_text,
            "contact_attempts": [attempt.model_dump(mode="json") for attempt in notice.contact_attempts],
            "comment": notice.comment,
        },
    )
    log.info("re-contact task created", task_id=str(task_id), due_on=task.due_on.isoformat())
