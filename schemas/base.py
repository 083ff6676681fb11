"""What every message's data model has in common: strict, immutable, self-describing."""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.common import Strict
from schemas.topics import Topic

SCHEMA_BASE = "https://samspil.dk/schemas/"


class EventData(Strict):
    """Base of every message's data (events and commands alike).

    Each concrete message names its CloudEvents ``type`` (reverse-DNS, ending in its major
    version) and the topic it travels on by default. Its ``dataschema`` is derived: the URL of
    the JSON Schema committed under ``schemas/json/``.
    """

    event_type: ClassVar[str]
    dataschema: ClassVar[str]
    topic: ClassVar[Topic]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            cls.dataschema = f"{SCHEMA_BASE}{cls.event_type}.json"

    @classmethod
    def examples(cls) -> list[EventData]:
        """The realistic examples the model documents, as instances."""
        extra = cls.model_config.get("json_schema_extra")
        raw = extra.get("examples") if isinstance(extra, dict) else None
        return [cls.model_validate(example) for example in raw] if isinstance(raw, list) else []


class CommandData(EventData):
    """A request to a department's service, sent over the bus by a department's own system.
    Commands are imperative (``RecordFollowUp``); the events they cause are facts."""
