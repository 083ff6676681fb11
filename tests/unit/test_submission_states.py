"""What a department's acknowledgement of a provider's report reaches, per kind of report, and
what an answer does to the submission it is about."""

from __future__ import annotations

import uuid

import pytest

from provider_gateway.domain.submissions import (
    AnswerVerdict,
    DepartmentAnswer,
    SubmissionState,
    SubmissionStatus,
    reached_by_acknowledgement,
    take_answer,
)

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


TASK = {"department": "employment", "outcome": "task-created"}
FINAL_ENTRY = {"outcome": "final", "decision": "approved"}


def submission(status: str = "received", *acknowledgements: dict[str, str]) -> SubmissionState:
    return SubmissionState(
        "nord", uuid.UUID(int=1), "absence-notice", SubmissionStatus(status), list(acknowledgements)
    )


def answer(
    entry: dict[str, str] = TASK,
    reached: SubmissionStatus = ACTED_ON,
    provider: str | None = "nord",
    same_as: dict[str, str] | None = None,
) -> DepartmentAnswer:
    return DepartmentAnswer(uuid.UUID(int=2), provider, entry, reached, "submission-acknowledged", same_as)


@pytest.mark.parametrize(
    ("before", "given", "verdict", "status", "shown"),
    [
        (None, answer(), AnswerVerdict.NOT_OURS, None, 0),
        (submission(), answer(provider="syd"), AnswerVerdict.NOT_OURS, "received", 0),
        # Decisions name no provider of their own to check against.
        (submission(), answer(provider=None), AnswerVerdict.SHOWN, "acted-on", 1),
        (submission("acted-on", TASK), answer(), AnswerVerdict.ALREADY_SHOWN, "acted-on", 1),
        # Late: shown, but the status never goes back.
        (submission("final"), answer(), AnswerVerdict.SHOWN, "final", 1),
        # One final outcome: another of the same identity does not replace the first.
        (
            submission("final", FINAL_ENTRY),
            answer({"outcome": "final", "decision": "rejected"}, FINAL, same_as={"outcome": "final"}),
            AnswerVerdict.ANOTHER_STANDS,
            "final",
            1,
        ),
    ],
)
def test_what_a_departments_answer_does_to_the_submission(
    before: SubmissionState | None,
    given: DepartmentAnswer,
    verdict: AnswerVerdict,
    status: str | None,
    shown: int,
) -> None:
    assert take_answer(before, given) is verdict
    if before is not None:
        assert (before.status, len(before.acknowledgements)) == (status, shown)


def test_a_second_answer_sees_the_first() -> None:
    state = submission()
    assert take_answer(state, answer()) is AnswerVerdict.SHOWN
    assert take_answer(state, answer()) is AnswerVerdict.ALREADY_SHOWN
    assert take_answer(state, answer({"outcome": "completed"}, FINAL)) is AnswerVerdict.SHOWN
    assert (state.status, state.acknowledgements) == (FINAL, [TASK, {"outcome": "completed"}])
