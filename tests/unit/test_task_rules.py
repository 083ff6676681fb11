"""The rules every department's tasks share: a task bound to a decision closes only by it, and
the task list's cursor is the list's own key or a 422."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from employment.domain.tasks import TaskKind as EmploymentTaskKind
from employment.service_layer.task_actions import actions_for as employment_actions
from samspil.runtime.errors import Conflict
from samspil.runtime.http import Problem
from samspil.runtime.paging import make_cursor, read_cursor
from samspil.runtime.tasks import TaskFilters, parse_task_key, require_closable_by_hand, task_page_query
from social.domain.tasks import TaskKind as SocialTaskKind
from social.service_layer.task_actions import actions_for as social_actions

TASK = uuid.uuid4()
IDS = {"submission_id": "s-1", "decision_id": "d-1", "handover_id": "h-1", "dispute_id": "x-1"}
# (The two departments share some kind names, e.g. "dispute-overdue": tell them apart by class.)
BOUND = {
    (EmploymentTaskKind, EmploymentTaskKind.RECONTACT_CITIZEN),
    (EmploymentTaskKind, EmploymentTaskKind.DECIDE_PLAN_CHANGE),
    (EmploymentTaskKind, EmploymentTaskKind.DECIDE_HANDOVER),
    (SocialTaskKind, SocialTaskKind.DECIDE_SOCIAL_PLAN_CHANGE),
    (SocialTaskKind, SocialTaskKind.RULE_DISPUTE),
    (SocialTaskKind, SocialTaskKind.DISPUTE_OVERDUE),
}
ALL = [(kind, employment_actions) for kind in EmploymentTaskKind] + [
    (kind, social_actions) for kind in SocialTaskKind
]


@pytest.mark.parametrize(
    ("kind", "actions_for"),
    ALL,
    ids=lambda v: getattr(v, "__module__", str(v)).split(".")[0] if callable(v) else str(v),
)
def test_only_a_task_bound_to_a_decision_refuses_to_be_closed_by_hand(
    kind: object, actions_for: object
) -> None:
    actions = actions_for(kind, TASK, "k1:ref", IDS)  # type: ignore[operator]
    assert actions
    if (type(kind), kind) in BOUND:
        with pytest.raises(Conflict) as refused:
            require_closable_by_hand(actions)
        assert actions[0].path in refused.value.detail
    else:
        require_closable_by_hand(actions)
        assert f"/v1/tasks/{TASK}/close" in {action.path for action in actions}


def test_an_action_carries_the_ids_the_task_is_about() -> None:
    [assess] = employment_actions(EmploymentTaskKind.RECONTACT_CITIZEN, TASK, "k1:ref", IDS)
    assert (assess.path, assess.body) == ("/v1/citizens/k1:ref/absence-assessments", {"submission_id": "s-1"})
    [rule] = social_actions(SocialTaskKind.DISPUTE_OVERDUE, TASK, "k1:ref", IDS)
    assert (rule.path, rule.body_schema) == ("/v1/disputes/x-1/ruling", "RulingIn")


def test_a_cursor_of_another_list_is_refused_naming_the_parameter() -> None:
    with pytest.raises(Problem) as refused:
        read_cursor(make_cursor([17]), parse_task_key)
    assert refused.value.extra["errors"][0]["field"] == "query.cursor"


def test_the_task_query_holds_only_the_filters_given_and_orders_on_a_unique_key() -> None:
    sql, args = task_page_query("task_id", TaskFilters(assignee="Kim"), None, 10)
    assert sql == (
        "SELECT task_id FROM caseworker_task WHERE assignee = $1"
        " ORDER BY due_on, created_at, task_id LIMIT $2"
    )
    assert args == ["Kim", 11]
    overdue, _ = task_page_query("task_id", TaskFilters(overdue_on=date(2026, 12, 1)), None, 10)
    assert "status = 'open' AND due_on < $1" in overdue
