"""Where a provider's submission stands in the closed loop; plain Python, no I/O."""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    """A submission's status only moves forward: an acknowledgement that arrives late (the
    departments publish on separate topics, so their order is not guaranteed) never moves it
    back, and nothing reopens a final one."""

    RECEIVED = "received"
    """The gateway has it; on its way to the department."""
    DELIVERED = "delivered"
    """A department recorded it."""
    ACTED_ON = "acted-on"
    """A department created a task for it or decided on it; a plan-change decision is still
    provisional, as the other department's team may object."""
    FINAL = "final"
    """What was decided on it is final: unopposed, as the joint specialist unit ruled, or (for an
    absence notice) as assessed, since no objection applies there."""

    def advanced_to(self, reached: SubmissionStatus) -> SubmissionStatus:
        return max(self, reached, key=_ORDER.index)


_ORDER = list(SubmissionStatus)
