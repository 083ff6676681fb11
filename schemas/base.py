"""What every event's data model has in common: strict, immutable, and self-describing."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from schemas.topics import Topic


class EventData(BaseModel):
    """Base of every event's data. Unknown fields are rejected and instances are immutable.

    Each subclass names its CloudEvents ``type``, its versioned ``dataschema`` and the topic it
    travels on, so a producer needs nothing but the model to publish it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    event_type: ClassVar[str]
    dataschema: ClassVar[str]
    topic: ClassVar[Topic]
