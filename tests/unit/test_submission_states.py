"""What a department's acknowledgement of a provider's report reaches, per kind of report."""

from __future__ import annotations

import pytest

from provider_gateway.domain.submissions import SubmissionStatus, reached_by_acknowledgement

DELIVERED, ACTED_ON, FINAL = SubmissionStatus.DELIVERED, SubmissionStatus.ACTED_ON, SubmissionStatus.FINAL


@pytest.mark.parametrize(
    ("kind", "department", "outcome", "reached"),
    [
        # A task is acted on, whoever makes it.
        ("absence-notice", "employment", "task-created", ACTED_ON),
        ("progress-report", "employment", "task-created", ACTED_ON),
        ("readiness-report", "social", "task-created", ACTED_ON),
        ("plan-change-request", "social", "task-created", ACTED_ON),
        # The department that answers for the kind is done: nothing more will happen.
        ("progress-report", "employment", "completed", FINAL),
        ("progress-report", "employment", "recorded", FINAL),
        ("readiness-report", "social", "completed", FINAL),
        ("meeting", "employment", "recorded", FINAL),
        # Another department's record only delivers it; its work done is not the answer.
        ("readiness-report", "employment", "recorded", DELIVERED),
        ("readiness-report", "employment", "completed", ACTED_ON),
        # Absence notices and plan-change requests become final by their decision alone.
        ("absence-notice", "employment", "recorded", DELIVERED),
        ("absence-notice", "employment", "completed", ACTED_ON),
        ("plan-change-request", "employment", "recorded", DELIVERED),
        ("plan-change-request", "employment", "completed", ACTED_ON),
    ],
)
def test_what_an_acknowledgement_reaches(
    kind: str, department: str, outcome: str, reached: SubmissionStatus
) -> None:
    assert reached_by_acknowledgement(kind, department, outcome) is reached


def test_a_state_never_moves_back() -> None:
    assert FINAL.advanced_to(DELIVERED) is FINAL
    assert SubmissionStatus.RECEIVED.advanced_to(ACTED_ON) is ACTED_ON
    assert [status.rank for status in SubmissionStatus] == [0, 1, 2, 3]
