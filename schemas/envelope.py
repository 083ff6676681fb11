"""The event envelope: CloudEvents 1.0 attributes carried as Kafka headers (binary mode).

Every record on the bus carries these attributes as ``ce_*`` headers, the event data as the
JSON value, and the citizen reference as the Kafka key, so each citizen's events stay in order.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from schemas.cpr import cpr_spans, mask_cpr_numbers, no_cpr

__all__ = ["cpr_spans", "mask_cpr_numbers", "no_cpr"]

SPEC_VERSION = "1.0"

# A citizen reference is a keyed pseudonym of the CPR number (HMAC-SHA256, hex), prefixed with
# the identifier of the key that made it so keys can be rotated: "k1:3f5a...". It never contains
# the CPR number itself.
CITIZEN_REF_PATTERN = r"^[a-z0-9][a-z0-9-]{0,15}:[0-9a-f]{64}$"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: str) -> str:
    """Refuse control characters other than tab and line breaks (NUL cannot even be stored)."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


CitizenRef = Annotated[
    str,
    Field(
        pattern=CITIZEN_REF_PATTERN,
        description="Pseudonymous citizen reference: key id, colon, HMAC-SHA256 of the CPR number.",
        examples=["k1:" + "5f" * 32],
    ),
]


class DataClassification(StrEnum):
    """How sensitive the event data is, so operators can set retention and access per topic."""

    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


class Envelope(BaseModel):
    """The CloudEvents context attributes of one event, plus Samspil's extensions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique event id; dedup key.")
    source: Annotated[
        str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"), AfterValidator(no_cpr)
    ] = Field(
        description="URI reference of the emitting service, e.g. /samspil/provider-gateway.",
    )
    type: Annotated[
        str, Field(min_length=1, max_length=200, pattern=r"^[a-z0-9.\-]+$"), AfterValidator(no_cpr)
    ] = Field(
        description="Event type, reverse-DNS style and versioned, e.g. "
        "dk.samspil.provider.absence-notice.submitted.v1.",
    )
    subject: CitizenRef
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    dataschema: Annotated[str, Field(min_length=1, max_length=300), AfterValidator(no_cpr)] = Field(
        description="Versioned schema URI of the data, e.g. urn:samspil:schema:absence-notice:v1.",
    )
    datacontenttype: Annotated[str, Field(max_length=100), AfterValidator(no_cpr)] = "application/json"
    correlationid: uuid.UUID = Field(
        description="Shared by every event that follows from the same original request.",
    )
    causationid: uuid.UUID | None = Field(
        default=None, description="Id of the event or request that directly caused this one."
    )
    legalbasis: Annotated[str, Field(max_length=200), AfterValidator(no_cpr)] | None = Field(
        default=None,
        description="Consent id or statutory reference that allows this share, if it crosses "
        "a department boundary.",
    )
    dataclassification: DataClassification = DataClassification.PERSONAL
