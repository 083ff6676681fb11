"""Commands a department's own case system may send over the bus instead of calling the
service's HTTP API. The HTTP API takes the same models as request bodies, so both entry points
validate alike. The envelope's id is the command id (commands are deduplicated like events)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import CommandData
from schemas.common import Department, LongText, PlanVersion, ProviderId, ShortText
from schemas.consent import SharedInformation, exactly_one_recipient
from schemas.contact_course import FollowUpKind, PostponementReason, other_reason_explained
from schemas.decisions import AbsenceAction, PlanChangeDecision
from schemas.plans import JobPlanActivity, SocialMeasure
from schemas.topics import EMPLOYMENT_COMMANDS, SOCIAL_COMMANDS

_TEAM = "Jobcenter Nord, team 3"


class RecordFollowUp(CommandData):
    """Record a follow-up that took place."""

    event_type = "dk.samspil.employment.command.record-follow-up.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "phone", "held_on": "2026-12-15", "note": "Kort status; trives i forløbet."}
            ]
        }
    )

    kind: FollowUpKind
    held_on: date
    note: LongText | None = None


class PostponeFollowUp(CommandData):
    """Postpone the next follow-up. Refused without a justification note."""

    event_type = "dk.samspil.employment.command.postpone-follow-up.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "awaiting-medical-treatment",
                    "until": "2027-02-15",
                    "justification_note": (
                        "Borgeren afventer operation; en samtale nu vil ikke fremme indsatsen. "
                        "Kontakt opretholdes via mentor."
                    ),
                }
            ]
        }
    )

    reason: PostponementReason
    reason_text: ShortText | None = Field(default=None, validate_default=True)
    until: date
    justification_note: LongText = Field(description="The social-work assessment (socialfaglig vurdering).")

    @field_validator("reason_text")
    @classmethod
    def _other_explained(cls, value: str | None, info: ValidationInfo) -> str | None:
        return other_reason_explained(value, info)


class ReviseJobPlan(CommandData):
    """Revise the job plan; ``expected_version`` guards against overwriting a newer one."""

    event_type = "dk.samspil.employment.command.revise-job-plan.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "expected_version": 2,
                    "goal": "Afklaring af arbejdsevne; på sigt job i lager og logistik.",
                    "activities": [
                        {
                            "category": "mentor",
                            "title": "Mentorstøtte",
                            "starts_on": "2026-12-01",
                            "hours_per_week": 2,
                        }
                    ],
                }
            ]
        }
    )

    expected_version: Annotated[int, Field(ge=0, description="The current version; 0 for a first plan.")]
    goal: ShortText
    activities: Annotated[list[JobPlanActivity], Field(max_length=50)] = Field(default_factory=list)


class DecidePlanChange(CommandData):
    """Decide a plan-change request: approve with the new plan version, or reject with a reason."""

    event_type = "dk.samspil.employment.command.decide-plan-change.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f",
                    "decision": "rejected",
                    "reason": "Afventer lægelig vurdering før timetallet øges.",
                    "team": _TEAM,
                }
            ]
        }
    )

    submission_id: uuid.UUID
    decision: PlanChangeDecision
    reason: LongText
    team: ShortText
    resulting_plan_version: PlanVersion | None = Field(default=None, validate_default=True)

    @field_validator("resulting_plan_version")
    @classmethod
    def _version_with_approval(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("decision") is PlanChangeDecision.APPROVED and value is None:
            raise ValueError("is required when the decision is 'approved'")
        return value


class AssessAbsence(CommandData):
    """Close a re-contact task by assessing the absence."""

    event_type = "dk.samspil.employment.command.assess-absence.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f",
                    "acceptable": True,
                    "action_taken": "citizen-contacted",
                    "note": "Borgeren var syg; forventer at møde igen mandag.",
                }
            ]
        }
    )

    submission_id: uuid.UUID
    acceptable: bool
    action_taken: AbsenceAction
    note: LongText


class ReviseSocialPlan(CommandData):
    """Revise the social action plan; ``expected_version`` guards against lost updates."""

    event_type = "dk.samspil.social.command.revise-social-plan.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "expected_version": 1,
                    "goal": "Stabil boligsituation og regelmæssig behandling.",
                    "measures": [
                        {"category": "housing-support", "starts_on": "2026-10-01", "hours_per_week": 3}
                    ],
                    "weekly_capacity_hours": 15,
                }
            ]
        }
    )

    expected_version: Annotated[int, Field(ge=0)]
    goal: ShortText
    measures: Annotated[list[SocialMeasure], Field(max_length=50)] = Field(default_factory=list)
    weekly_capacity_hours: float | None = Field(default=None, gt=0, le=60)


class RequestHandover(CommandData):
    """Ask the employment department to take the citizen over."""

    event_type = "dk.samspil.social.command.request-handover.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "justification": "Stabil i behandling i fire måneder; ønsker praktik.",
                    "proposed_from": "2027-03-01",
                }
            ]
        }
    )

    justification: LongText
    proposed_from: date


class RecordConsent(CommandData):
    """Record the citizen's specific consent to a share."""

    event_type = "dk.samspil.social.command.record-consent.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "information": "social-plan-summary",
                    "to_department": "employment",
                    "purpose": "At jobplanen tager hensyn til den sociale handleplan.",
                    "expires_on": "2027-11-20",
                }
            ]
        }
    )

    information: SharedInformation
    to_department: Department | None = None
    to_provider_id: ProviderId | None = Field(default=None, validate_default=True)
    purpose: ShortText
    expires_on: date

    @field_validator("to_provider_id")
    @classmethod
    def _one_recipient(cls, value: str | None, info: ValidationInfo) -> str | None:
        return exactly_one_recipient(value, info)


class WithdrawConsent(CommandData):
    """Withdraw a consent."""

    event_type = "dk.samspil.social.command.withdraw-consent.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"consent_id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091"}]}
    )

    consent_id: uuid.UUID
