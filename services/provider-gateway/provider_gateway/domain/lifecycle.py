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
    ReferralStatus,
    ReferralTransition,
    check_transition,
)

__all__ = [
    "ACTIONS",
    "IllegalTransition",
    "ReferralClosed",
    "ReferralNotFound",
    "allowed_actions",
    "check_transition",
]

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


def allowed_actions(current: ReferralStatus) -> list[str]:
    """The actions the state machine allows a referral in this status, in the order of ACTIONS."""
    allowed = []
    for action, step in ACTIONS.items():
        try:
            check_transition(current, step)
        except IllegalTransition:
            continue
        allowed.append(action)
    return allowed


class ReferralNotFound(Exception):
    """No such referral for this provider (whether it exists for another is not told)."""


class ReferralClosed(Exception):
    """The referral is closed: it takes no more reports."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status
