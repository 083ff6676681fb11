"""Social measures shared with a provider on the citizen's consent (samtykke); plain Python, no
I/O. One share per consent: a later plan version replaces an earlier one, and once the consent
has ended nothing brings the measures back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class StoredShare:
    """What the gateway holds for one consent."""

    citizen_ref: str
    provider_id: str
    plan_version: int | None
    ended: bool


class ShareVerdict(StrEnum):
    STORE = "store"
    """New, or a plan version at least as recent as the one held: it replaces what is held."""
    CONSENT_ENDED = "consent-ended"
    """The consent was withdrawn or expired: an ended consent stays ended."""
    STALE = "stale"
    """An older plan version arriving late."""
    OTHER_PARTIES = "other-parties"
    """The consent is held for another citizen or provider: a consent names one of each."""


def judge_share(
    stored: StoredShare | None, citizen_ref: str, provider_id: str, plan_version: int
) -> ShareVerdict:
    if stored is None:
        return ShareVerdict.STORE
    if stored.ended:
        return ShareVerdict.CONSENT_ENDED
    if (stored.citizen_ref, stored.provider_id) != (citizen_ref, provider_id):
        return ShareVerdict.OTHER_PARTIES
    if stored.plan_version is not None and plan_version < stored.plan_version:
        return ShareVerdict.STALE
    return ShareVerdict.STORE


def measures_in_view(shares: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The measures of every share in force, once each (two consents may share the same plan),
    earliest first."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for measures in shares:
        for measure in measures:
            seen.setdefault(tuple(sorted((k, str(v)) for k, v in measure.items())), measure)
    return sorted(seen.values(), key=lambda m: (m["starts_on"], m["category"], m.get("ends_on") or ""))
