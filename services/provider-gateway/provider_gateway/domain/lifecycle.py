"""The steps a provider may take on a referral; the state machine itself is in schemas/."""

from __future__ import annotations

from schemas.referrals import (
    IllegalTransition,
    ReferralAccepted,
    ReferralCancelled,
    ReferralCompleted,
    ReferralFailed,
    ReferralPutOnHold,
    ReferralRejected,
    ReferralResumed,
    ReferralStarted,
    ReferralTransition,
    check_transition,
)

__all__ = ["ACTIONS", "IllegalTransition", "check_transition"]

# The provider's actions, by the path segment of their endpoint.
ACTIONS: dict[str, type[ReferralTransition]] = {
    "accept": ReferralAccepted,
    "reject": ReferralRejected,
    "start": ReferralStarted,
    "hold": ReferralPutOnHold,
    "resume": ReferralResumed,
    "complete": ReferralCompleted,
    "fail": ReferralFailed,
    "cancel": ReferralCancelled,
}
