"""Every message type on the bus, by its CloudEvents type, so a consumer can tell unknown
from uninteresting, and so schemas and documentation can be generated for all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas import (
    commands,
    consent,
    contact_course,
    decisions,
    disputes,
    lead_department,
    plans,
    provider_reports,
    referrals,
)
from schemas.base import EventData
from schemas.topics import Topic

MODULES = (
    referrals,
    provider_reports,
    decisions,
    plans,
    contact_course,
    lead_department,
    disputes,
    consent,
    commands,
)


def _concrete(module: object) -> list[type[EventData]]:
    found = []
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, EventData) and "event_type" in value.__dict__:
            found.append(value)
    return found


MESSAGES: tuple[type[EventData], ...] = tuple(model for module in MODULES for model in _concrete(module))
EVENT_TYPES: dict[str, type[EventData]] = {model.event_type: model for model in MESSAGES}

assert len(EVENT_TYPES) == len(MESSAGES), "two messages share a type"


def messages_on(topic: Topic) -> list[type[EventData]]:
    """The messages that travel on a topic (by default or as one of their topics)."""
    return [model for model in MESSAGES if topic in getattr(model, "topics", (model.topic,))]


# How a consumer reads an older version of a message as the current one during a migration.
UPCASTS: dict[type[EventData], tuple[type[EventData], Callable[[Any], EventData]]] = {
    provider_reports.AbsenceNoticeSubmittedV1: (
        provider_reports.AbsenceNoticeSubmitted,
        provider_reports.AbsenceNoticeSubmitted.from_v1,
    ),
}
