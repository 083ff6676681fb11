"""What every social handler needs to emit events and to tell the date in Denmark."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.base import EventData
from schemas.envelope import Envelope
from schemas.topics import SOCIAL_EVENTS

SOURCE = "/samspil/social"
DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def danish_today() -> date:
    return datetime.now(UTC).astimezone(DANISH_TIME).date()


@dataclass(frozen=True)
class Actor:
    """Who asked: a caseworker or the specialist unit through the API, or the case system."""

    name: str
    team: str | None = None

    @classmethod
    def case_system(cls, source: str) -> Actor:
        return cls(name=f"case system {source}")


async def emit(
    conn: Connection,
    data: EventData,
    subject: str,
    cause: Envelope | None = None,
    legal_basis: str | None = None,
) -> Envelope:
    """Put the event in the outbox for the social department's topic, in the caller's transaction."""
    envelope = Envelope(
        source=SOURCE,
        type=data.event_type,
        subject=subject,
        dataschema=data.dataschema,
        correlationid=cause.correlationid if cause else uuid.uuid4(),
        causationid=cause.id if cause else None,
        legalbasis=legal_basis,
    )
    await add_event(conn, envelope, data, topic=SOCIAL_EVENTS.name)
    return envelope
