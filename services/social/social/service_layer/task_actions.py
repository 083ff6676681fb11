"""What completes each kind of the social team's tasks, as calls on this service's API with the
ids filled in from the task, so a case system acts on a task knowing only its id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from samspil.runtime.tasks import TaskAction, close_action
from social.domain.tasks import TaskKind


def actions_for(
    kind: TaskKind, task_id: uuid.UUID, citizen_ref: str, details: Mapping[str, Any]
) -> list[TaskAction]:
    """The actions that complete the task. A task without a ``close`` action is bound to its
    decision (or ruling) and closes only by it."""
    citizen = f"/v1/citizens/{citizen_ref}"
    match kind:
        case TaskKind.DECIDE_SOCIAL_PLAN_CHANGE:
            return [
                TaskAction(
                    name="decide-plan-change",
                    path=f"{citizen}/plan-change-decisions",
                    body_schema="DecideSocialPlanChange",
                    body={"submission_id": details["submission_id"]},
                    description="Approve (with the new social plan version) or reject the request.",
                )
            ]
        case TaskKind.CONSIDER_EMPLOYMENT_DECISION:
            return [
                TaskAction(
                    name="object",
                    path=f"{citizen}/objections",
                    body_schema="ObjectToDecision",
                    body={"decision_id": details["decision_id"]},
                    description="Object by the due date: the joint specialist unit rules.",
                ),
                close_action(
                    task_id, "No objection: close the task; the decision becomes final at its deadline."
                ),
            ]
        case TaskKind.RULE_DISPUTE | TaskKind.DISPUTE_OVERDUE:
            return [
                TaskAction(
                    name="rule",
                    path=f"/v1/disputes/{details['dispute_id']}/ruling",
                    body_schema="RulingIn",
                    description="The joint specialist unit's ruling (its role only): final on both sides.",
                )
            ]
        case TaskKind.READY_FOR_FURTHER_OFFERS:
            return [
                close_action(
                    task_id,
                    "Close once the team has considered further offers (a readiness assessment, "
                    "POST /v1/citizens/{ref}/readiness-assessments, records the team's own view).",
                )
            ]
        case TaskKind.APPLY_RULING:
            return [close_action(task_id, "Close once the social action plan follows the ruling.")]
        case TaskKind.RESOLVE_PLAN_CONFLICT:
            return [
                close_action(task_id, "Close once the two teams have settled the conflict between the plans.")
            ]
        case TaskKind.HANDOVER_ACCEPTED | TaskKind.HANDOVER_REJECTED:
            return [close_action(task_id, "Close once the team has taken note of the jobcenter's answer.")]
