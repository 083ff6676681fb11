"""Where a provider's submission stands in the closed loop; plain Python, no I/O.

The four states mean the same for every kind of report:

- received: the gateway has it, on its way to the departments.
- delivered: a department recorded it.
- acted-on: a department made a task for it, or decided on it provisionally (the other
  department's team may object to a plan-change decision).
- final: nothing more will happen to it: the department that answers for the kind is done.
  An absence notice once the jobcenter assessed the absence; a plan-change request once the
  decision on it is final (unopposed, or as the joint specialist unit ruled); a progress report
  once the jobcenter's review task is closed (or at once, when it made none); a readiness
  report once the social department's task for it is closed (a readiness assessment closes it).

A later state implies the earlier ones: a report a department makes a task for is delivered and
acted on at once, and each state's time says when it was reached.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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

    @property
    def rank(self) -> int:
        """0 for received up to 3 for final."""
        return _ORDER.index(self)


_ORDER = list(SubmissionStatus)

# The department whose "done" (recorded without a task, or its task completed) makes a report of
# the kind final. Absence notices and plan-change requests become final by their decision alone.
FINISHED_BY: dict[str, str] = {
    "progress-report": "employment",
    "readiness-report": "social",
    "meeting": "employment",
}


def reached_by_acknowledgement(kind: str, department: str, outcome: str) -> SubmissionStatus:
    """What a department's acknowledgement (recorded, task-created or completed) reaches."""
    if outcome == "task-created":
        return SubmissionStatus.ACTED_ON
    if FINISHED_BY.get(kind) == department:
        return SubmissionStatus.FINAL
    return SubmissionStatus.DELIVERED if outcome == "recorded" else SubmissionStatus.ACTED_ON


@dataclass(frozen=True)
class DepartmentAnswer:
    """What a department did with a provider's submission (acknowledged, decided, made final),
    to be shown on the submission and in the provider's feed once. ``same_as``: what makes an
    entry already on the submission the same answer (by default the whole entry)."""

    submission_id: uuid.UUID
    provider_id: str | None
    entry: dict[str, Any]
    reached: SubmissionStatus | Callable[[str], SubmissionStatus]
    feed_kind: str
    same_as: dict[str, Any] | None = None


@dataclass
class SubmissionState:
    """A submission as an answer finds it."""

    provider_id: str
    referral_id: uuid.UUID
    kind: str
    status: SubmissionStatus
    acknowledgements: list[dict[str, Any]] = field(default_factory=list)


class AnswerVerdict(StrEnum):
    NOT_OURS = "not-ours"
    """No such submission, or another provider's: nothing is shown."""
    ALREADY_SHOWN = "already-shown"
    """The same answer is on the submission (a department published the fact anew)."""
    ANOTHER_STANDS = "another-stands"
    """A different answer of the same identity is on it: the first stands."""
    SHOWN = "shown"
    """Added to the submission, whose status it may advance."""


def take_answer(submission: SubmissionState | None, answer: DepartmentAnswer) -> AnswerVerdict:
    """Judge the answer against the submission and, when it is to be shown, add it to the
    submission (its acknowledgements and the status it reaches: never a step back)."""
    if submission is None or answer.provider_id not in (None, submission.provider_id):
        return AnswerVerdict.NOT_OURS
    identity = (answer.same_as or answer.entry).items()
    recorded = [a for a in submission.acknowledgements if identity <= a.items()]
    if recorded:
        if any(answer.entry.items() <= acknowledgement.items() for acknowledgement in recorded):
            return AnswerVerdict.ALREADY_SHOWN
        return AnswerVerdict.ANOTHER_STANDS
    reached = answer.reached(submission.kind) if callable(answer.reached) else answer.reached
    submission.status = submission.status.advanced_to(reached)
    submission.acknowledgements.append(answer.entry)
    return AnswerVerdict.SHOWN
