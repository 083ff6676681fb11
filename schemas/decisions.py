"""Decisions the departments make on what providers sent them."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.common import CaseworkerTeam, Department, LongText, PlanVersion, ProviderId, ShortText
from schemas.provider_reports import TargetPlan
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS, Topic


class PlanChangeDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class PlanChangeDecided(EventData):
    """The owning team decided on a plan-change request. An approval names the plan version
    that carries the change; a rejection says why. The other team may object (see disputes)."""

    event_type = "dk.samspil.plan-change.decided.v1"
    topic = EMPLOYMENT_EVENTS
    topics: ClassVar[tuple[Topic, ...]] = (EMPLOYMENT_EVENTS, SOCIAL_EVENTS)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision_id": "4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a",
                    "submission_id": "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f",
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "target_plan": "job-plan",
                    "decision": "approved",
                    "reason": "Fremmødet er stabilt; flere timer understøtter målet.",
                    "deciding_team": {"department": "employment", "team": "Jobcenter Nord, team 3"},
                    "resulting_plan_version": 4,
                }
            ]
        }
    )

    decision_id: uuid.UUID
    submission_id: uuid.UUID | None = Field(
        default=None, description="The provider's request, if it came from one."
    )
    referral_id: uuid.UUID | None = None
    provider_id: ProviderId | None = None
    target_plan: TargetPlan
    decision: PlanChangeDecision
    reason: LongText
    deciding_team: CaseworkerTeam
    resulting_plan_version: PlanVersion | None = Field(
        default=None, validate_default=True, description="Required with an approval."
    )
    objection_deadline: date | None = Field(
        default=None,
        description="The last day the other department's team may object, set by the deciding "
        "department, so both sides show and keep the same deadline.",
    )

    @field_validator("deciding_team")
    @classmethod
    def _owning_team_decides(cls, value: CaseworkerTeam, info: ValidationInfo) -> CaseworkerTeam:
        target = info.data.get("target_plan")
        if target is not None and value.department is not target.department:
            raise ValueError(f"the {target.department.value} team owns the {target.value} and decides on it")
        return value

    @field_validator("resulting_plan_version")
    @classmethod
    def _version_with_approval(cls, value: int | None, info: ValidationInfo) -> int | None:
        decision = info.data.get("decision")
        if decision is PlanChangeDecision.APPROVED and value is None:
            raise ValueError("is required when the decision is 'approved'")
        if decision is PlanChangeDecision.REJECTED and value is not None:
            raise ValueError("must be empty when the decision is 'rejected'")
        return value


class AbsenceAction(StrEnum):
    CITIZEN_CONTACTED = "citizen-contacted"
    MEETING_BOOKED = "meeting-booked"
    NO_ACTION_NEEDED = "no-action-needed"
    REFERRAL_PAUSED = "referral-paused"
    OTHER = "other"


class AbsenceAssessed(EventData):
    """The jobcenter assessed a provider's absence notice after re-contacting the citizen."""

    event_type = "dk.samspil.employment.absence.assessed.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f",
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "acceptable": True,
                    "action_taken": "citizen-contacted",
                    "note": "Borgeren var syg; forventer at møde igen mandag.",
                }
            ]
        }
    )

    submission_id: uuid.UUID
    referral_id: uuid.UUID
    provider_id: ProviderId
    acceptable: bool = Field(description="Whether the absence is acceptable (lovligt fravær).")
    action_taken: AbsenceAction
    note: ShortText | None = Field(
        default=None,
        validate_default=True,
        description="What the provider should know; required for 'other'.",
    )

    @field_validator("note")
    @classmethod
    def _other_explained(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("action_taken") is AbsenceAction.OTHER and not value:
            raise ValueError("is required when action_taken is 'other'")
        return value


class ReportOutcome(StrEnum):
    """What the department did with a provider's report when it arrived."""

    TASK_CREATED = "task-created"
    RECORDED = "recorded"
    COMPLETED = "completed"
    """Later: the department's work on the report is done (the task it made for it was closed)."""


class ReportReceived(EventData):
    """A department received a provider's report and acted on it: the closed loop back to the
    provider, who sees it on the submission. Sent again with outcome ``completed`` when the
    department's work on the report is done (the task it made for it was closed)."""

    event_type = "dk.samspil.report.received.v1"
    topic = EMPLOYMENT_EVENTS
    topics: ClassVar[tuple[Topic, ...]] = (EMPLOYMENT_EVENTS, SOCIAL_EVENTS)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f",
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "department": "employment",
                    "outcome": "task-created",
                    "task_due_on": "2026-11-25",
                }
            ]
        }
    )

    submission_id: uuid.UUID
    referral_id: uuid.UUID
    provider_id: ProviderId
    department: Department
    outcome: ReportOutcome
    task_due_on: date | None = Field(default=None, description="When the department's task falls due.")
