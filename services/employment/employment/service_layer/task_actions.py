"""What completes each kind of the jobcenter's tasks, as calls on this service's API with the
ids filled in from the task, so a case system acts on a task knowing only its id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from employment.domain.tasks import TaskKind
from samspil.runtime.tasks import TaskAction, close_action


def actions_for(
    kind: TaskKind, task_id: uuid.UUID, citizen_ref: str, details: Mapping[str, Any]
) -> list[TaskAction]:
    """The actions that complete the task. A task without a ``close`` action is bound to its
    decision and closes only by it."""
    citizen = f"/v1/citizens/{citizen_ref}"
    match kind:
        case TaskKind.RECONTACT_CITIZEN:
            return [
                TaskAction(
                    name="assess-absence",
                    path=f"{citizen}/absence-assessments",
                    body_schema="AssessAbsence",
                    body={"submission_id": details["submission_id"]},
                    description="Assess the absence after re-contacting the citizen; the provider learns it.",
                )
            ]
        case TaskKind.DECIDE_PLAN_CHANGE:
            return [
                TaskAction(
                    name="decide-plan-change",
                    path=f"{citizen}/plan-change-decisions",
                    body_schema="DecidePlanChange",
                    body={"submission_id": details["submission_id"]},
                    description="Approve (with the new job plan version) or reject the provider's request.",
                )
            ]
        case TaskKind.DECIDE_HANDOVER:
            handover = f"{citizen}/handovers/{details['handover_id']}"
            return [
                TaskAction(
                    name="accept-handover",
                    path=f"{handover}/accept",
                    body_schema="HandoverAcceptIn",
                    description="Accept: the jobcenter leads the contact course again from the given date.",
                ),
                TaskAction(
                    name="reject-handover",
                    path=f"{handover}/reject",
                    body_schema="HandoverRejectIn",
                    description="Reject with a reason: the social department stays the lead department.",
                ),
            ]
        case TaskKind.CONSIDER_SOCIAL_DECISION:
            return [
                TaskAction(
                    name="object",
                    path=f"{citizen}/objections",
                    body_schema="ObjectToSocialPlanDecision",
                    body={"decision_id": details["decision_id"]},
                    description="Object by the due date: the joint specialist unit rules.",
                ),
                close_action(
                    task_id, "No objection: close the task; the decision becomes final at its deadline."
                ),
            ]
        case TaskKind.FOLLOW_DISPUTE:
            return [
                close_action(task_id, "The ruling closes this task; close it by hand to stop following it.")
            ]
        case TaskKind.APPLY_RULING:
            return [
                close_action(
                    task_id, "Close once the job plan follows the ruling (revise the job plan first)."
                )
            ]
        case TaskKind.RESOLVE_PLAN_CONFLICT:
            return [
                close_action(task_id, "Close once the two teams have settled the conflict between the plans.")
            ]
        case TaskKind.CHASE_PROGRESS_REPORT:
            return [
                close_action(
                    task_id, "The provider's next progress report closes this task; or close it once chased."
                )
            ]
        case TaskKind.REVIEW_PROGRESS | TaskKind.DISPUTE_OVERDUE:
            return [close_action(task_id)]
