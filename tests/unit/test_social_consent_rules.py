"""The social department's consent rules: what allows the plan summary and free texts to reach
the jobcenter, which consents show providers the social measures, and what a provider sees."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from samspil.runtime.errors import Conflict, Invalid
from schemas.consent import ShareEndReason
from schemas.plans import MeasureCategory, SocialMeasure
from social.domain import consents as rules

CONSENT = uuid.UUID("11111111-2222-4333-8444-555555555555")
TODAY = date(2027, 3, 1)


@pytest.mark.parametrize(
    ("consent_id", "statute", "basis"),
    [
        (CONSENT, None, f"consent:{CONSENT}"),
        (CONSENT, "serviceloven-11", f"consent:{CONSENT}"),
        (None, "serviceloven-11", "statute:serviceloven-11"),
        (None, "", None),
        (None, None, None),
    ],
    ids=["consent", "consent-before-statute", "statute", "empty-statute", "nothing"],
)
def test_a_consent_in_force_comes_before_the_statute_as_the_basis_to_share(
    consent_id: uuid.UUID | None, statute: str | None, basis: str | None
) -> None:
    assert rules.share_basis(consent_id, statute) == basis


@pytest.mark.parametrize(
    ("basis", "shared"),
    [("consent:x", ("Klar til praktik.", "consent:x")), (None, (rules.NOT_SHARED, None))],
)
def test_a_free_text_crosses_only_on_a_basis_else_a_neutral_text_goes(
    basis: str | None, shared: tuple[str, str | None]
) -> None:
    assert rules.shared_text("Klar til praktik.", basis) == shared


@pytest.mark.parametrize(
    ("reason", "basis"),
    [
        (ShareEndReason.WITHDRAWN, f"consent-withdrawn:{CONSENT}"),
        (ShareEndReason.EXPIRED, f"consent-expired:{CONSENT}"),
    ],
)
def test_the_end_of_a_share_names_why_and_which_consent(reason: ShareEndReason, basis: str) -> None:
    assert rules.ended_basis(reason, CONSENT) == basis


@pytest.mark.parametrize(
    ("expires_on", "accepted"),
    [(date(2027, 3, 2), True), (TODAY, False), (date(2027, 2, 28), False)],
    ids=["tomorrow", "today", "yesterday"],
)
def test_a_consent_must_run_past_today(expires_on: date, accepted: bool) -> None:
    if accepted:
        rules.check_expiry(expires_on, TODAY)
    else:
        with pytest.raises(Invalid) as refused:
            rules.check_expiry(expires_on, TODAY)
        assert refused.value.field == "expires_on"


@pytest.mark.parametrize(("withdrawn_on", "accepted"), [(None, True), (TODAY, False)])
def test_a_consent_is_withdrawn_once(withdrawn_on: date | None, accepted: bool) -> None:
    if accepted:
        rules.check_withdrawable(withdrawn_on)
    else:
        with pytest.raises(Conflict) as refused:
            rules.check_withdrawable(withdrawn_on)
        assert refused.value.field == "consent_id"


@pytest.mark.parametrize(
    ("information", "to_department", "covers"),
    [
        ("social-plan-summary", "employment", True),
        ("social-plan-summary", None, False),
        ("social-plan-summary", "social", False),
        ("readiness", "employment", False),
    ],
)
def test_only_a_summary_consent_to_the_jobcenter_covers_the_plan_summary(
    information: str, to_department: str | None, covers: bool
) -> None:
    assert rules.covers_plan_summary(information, to_department) is covers


@pytest.mark.parametrize(
    ("information", "to_provider_id", "shows"),
    [
        ("social-plan-summary", "prov-1", True),
        ("social-plan-summary", None, False),
        ("readiness", "prov-1", False),
    ],
)
def test_only_a_summary_consent_to_a_provider_shows_it_the_measures(
    information: str, to_provider_id: str | None, shows: bool
) -> None:
    assert rules.shows_provider_measures(information, to_provider_id) is shows


def test_a_provider_sees_the_kind_and_period_of_a_measure_never_who_provides_it() -> None:
    measure = SocialMeasure(
        category=MeasureCategory.MENTOR,
        starts_on=date(2027, 3, 1),
        ends_on=date(2027, 6, 1),
        hours_per_week=4,
        provider_id="prov-9",
        compatible_with_activation=False,
    )
    [shared] = rules.provider_measures([measure])
    assert shared.model_dump() == {
        "category": MeasureCategory.MENTOR,
        "starts_on": date(2027, 3, 1),
        "ends_on": date(2027, 6, 1),
        "compatible_with_activation": False,
    }
