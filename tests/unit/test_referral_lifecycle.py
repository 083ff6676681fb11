from __future__ import annotations

import pytest

from provider_gateway.domain.lifecycle import ACTIONS, IllegalTransition, check_transition
from schemas.referrals import ReferralStatus as S

ALLOWED = {
    (S.REQUESTED, "accept"): S.ACCEPTED,
    (S.REQUESTED, "reject"): S.REJECTED,
    (S.REQUESTED, "cancel"): S.CANCELLED,
    (S.ACCEPTED, "start"): S.IN_PROGRESS,
    (S.ACCEPTED, "hold"): S.ON_HOLD,
    (S.ACCEPTED, "complete"): S.COMPLETED,
    (S.ACCEPTED, "fail"): S.FAILED,
    (S.ACCEPTED, "cancel"): S.CANCELLED,
    (S.IN_PROGRESS, "hold"): S.ON_HOLD,
    (S.IN_PROGRESS, "complete"): S.COMPLETED,
    (S.IN_PROGRESS, "fail"): S.FAILED,
    (S.IN_PROGRESS, "cancel"): S.CANCELLED,
    (S.ON_HOLD, "resume"): S.IN_PROGRESS,
    (S.ON_HOLD, "complete"): S.COMPLETED,
    (S.ON_HOLD, "fail"): S.FAILED,
    (S.ON_HOLD, "cancel"): S.CANCELLED,
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_step_from_every_status_follows_the_state_machine(current: S, action: str) -> None:
    expected = ALLOWED.get((current, action))
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            check_transition(current, ACTIONS[action])
        assert refused.value.current is current
    else:
        assert check_transition(current, ACTIONS[action]) is expected
