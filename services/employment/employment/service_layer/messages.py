"""What every handler needs to emit events: the envelope, and today's date in Denmark."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from employment.adapters import repository
from samspil.runtime.codec import encode
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event, add_records
from schemas.base import EventData
from schemas.envelope import Envelope
from schemas.topics import EMPLOYMENT_EVENTS

SOURCE = "/samspil/employment"
# Due dates are Danish dates, whatever the server's clock zone.
DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def danish_today() -> date:
    return datetime.now(UTC).astimezone(DANISH_TIME).date()


def envelope_for(
    data: EventData, subject: str, cause: Envelope | None = None, legal_basis: str | None = None
) -> Envelope:
    return Envelope(
        source=SOURCE,
        type=data.event_type,
        subject=subject,
        dataschema=data.dataschema,
        correlationid=cause.correlationid if cause else uuid.uuid4(),
        causationid=cause.id if cause else None,
        legalbasis=legal_basis,
    )


async def emit(
    conn: Connection,
    data: EventData,
    subject: str,
    cause: Envelope | None = None,
    legal_basis: str | None = None,
) -> Envelope:
    """Put the event in the outbox for the jobcenter's topic, in the caller's transaction (an
    event both departments may publish, such as a dispute, names the other's topic by default)."""
    envelope = envelope_for(data, subject, cause, legal_basis)
    await add_event(conn, envelope, data, topic=EMPLOYMENT_EVENTS.name)
    return envelope


async def emit_all(
    conn: Connection, events: Sequence[tuple[EventData, str, Envelope | None]]
) -> list[Envelope]:
    """:func:`emit` for many ``(data, subject, cause)`` at once, in order, in one statement."""
    envelopes = [envelope_for(data, subject, cause) for data, subject, cause in events]
    await add_records(
        conn,
        [
            (encode(envelope, data, EMPLOYMENT_EVENTS.name), str(envelope.id), envelope.type)
            for envelope, (data, _, _) in zip(envelopes, events, strict=True)
        ],
    )
    return envelopes


# The basis on which a provider reads what the jobcenter writes for it: the referral itself.
PROVIDER_SHARE_BASIS = "the citizen's referral to the provider"
# The basis on which the parties to a dispute, and the specialist unit, read each other's positions.
DISPUTE_PROTOCOL_BASIS = "the joint dispute protocol of the two departments"
# Who shares what a scheduled check finds, with no caseworker behind it.
SHARED_BY_SYSTEM = "jobcenter (automatic)"


async def log_share(
    conn: Connection,
    envelope: Envelope,
    information: str,
    recipient: str,
    basis: str,
    shared_by: str,
) -> None:
    """Who shared what with whom, in the caller's transaction: the text crosses only with its row."""
    await repository.log_share(conn, envelope.subject, information, recipient, basis, shared_by, envelope.id)


def provider_recipient(provider_id: str) -> str:
    return f"provider:{provider_id}"
