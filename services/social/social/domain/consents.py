"""Consent and what it allows: the rules that decide whether the social plan summary, a free text
about the citizen's social situation or the social measures may leave the social case, and on
which basis each share is logged. Plain Python, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from samspil.runtime.errors import Conflict, Invalid
from schemas.common import Department
from schemas.consent import SharedInformation, SharedMeasure, ShareEndReason
from schemas.plans import SocialMeasure

# What crosses to the jobcenter instead of a free text that no basis allows to be shared.
NOT_SHARED = (
    "The social team's reasons stay in the social case: no consent or statutory basis covers sharing them."
)
# Who ends the shares of a consent that ran out.
EXPIRY_ACTOR = "consent expiry"


def share_basis(consent_id: uuid.UUID | None, statute: str | None) -> str | None:
    """What allows the plan summary to reach the employment department: a consent in force, else
    the recorded statutory basis, else nothing (and nothing is shared)."""
    if consent_id is not None:
        return consent_basis(consent_id)
    return f"statute:{statute}" if statute else None


def consent_basis(consent_id: uuid.UUID) -> str:
    return f"consent:{consent_id}"


def ended_basis(reason: ShareEndReason, consent_id: uuid.UUID) -> str:
    """The basis logged when a consent's share ends, withdrawn or expired."""
    return f"consent-{reason.value}:{consent_id}"


def shared_text(text: str, basis: str | None) -> tuple[str, str | None]:
    """A free text about the citizen's social situation may cross to the jobcenter only on the
    same basis as the social plan summary; otherwise a neutral text goes instead."""
    return (text, basis) if basis else (NOT_SHARED, None)


def check_expiry(expires_on: date, today: date) -> None:
    """A consent is recorded for a time to come."""
    if expires_on <= today:
        raise Invalid("must be after today", field="expires_on")


def check_withdrawable(withdrawn_on: date | None) -> None:
    if withdrawn_on is not None:
        raise Conflict("The consent was already withdrawn", field="consent_id")


def covers_plan_summary(information: str, to_department: str | None) -> bool:
    """The consent is one that lets the social plan summary reach the jobcenter."""
    return (
        information == SharedInformation.SOCIAL_PLAN_SUMMARY.value
        and to_department == Department.EMPLOYMENT.value
    )


def shows_provider_measures(information: str, to_provider_id: str | None) -> bool:
    """The consent is one that lets a provider see the social measures."""
    return to_provider_id is not None and information == SharedInformation.SOCIAL_PLAN_SUMMARY.value


def provider_measures(measures: Iterable[SocialMeasure]) -> list[SharedMeasure]:
    """What a provider sees of the social measures: their kind and period, never who provides them."""
    return [
        SharedMeasure(
            category=measure.category,
            starts_on=measure.starts_on,
            ends_on=measure.ends_on,
            compatible_with_activation=measure.compatible_with_activation,
        )
        for measure in measures
    ]
