"""Facts published by the employment department (jobcenter)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Self

from pydantic import Field, model_validator

from schemas.base import EventData
from schemas.topics import EMPLOYMENT_EVENTS


class ReferralRequested(EventData):
    """The jobcenter referred a citizen to an offer at a provider (henvisning til tilbud).

    Carries what the provider needs and no more: never a CPR number.
    """

    event_type = "dk.samspil.employment.referral.requested.v1"
    dataschema = "urn:samspil:schema:referral-requested:v1"
    topic = EMPLOYMENT_EVENTS

    referral_id: uuid.UUID
    provider_id: Annotated[str, Field(min_length=1, max_length=200)]
    offer_title: Annotated[str, Field(min_length=1, max_length=200)]
    hours_per_week: Annotated[float, Field(gt=0, le=37)]
    starts_on: date
    expected_end_on: date | None = None
    citizen_display_name: Annotated[str, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _check_dates(self) -> Self:
        if self.expected_end_on is not None and self.expected_end_on < self.starts_on:
            raise ValueError("expected_end_on must not be before starts_on")
        return self
