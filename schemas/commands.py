"""Commands a department's own case system may send over the bus instead of calling the
service's HTTP API. The HTTP API takes the same models as request bodies, so both entry points
validate alike. The envelope's id is the command id (commands are deduplicated like events)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import CommandData
from schemas.common import (
    ContactPerson,
    Department,
    LongText,
    Name,
    PlanVersion,
    ProviderId,
    RequiredBecause,
    ShortText,
)
from schemas.consent import SharedInformation, exactly_one_recipient
from schemas.contact_course import FollowUpKind, PostponementReason, other_reason_explained
from schemas.decisions import AbsenceAction, PlanChangeDecision
from schemas.disputes import RulingOutcome
from schemas.plans import JobPlanActivity, SocialMeasure
from schemas.referrals import (
    DEFAULT_REPORTING_INTERVAL_DAYS,
    Offer,
    OptionalReasonCategory,
    ReportingIntervalDays,
)
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
    justification_note: Annotated[
        LongText, RequiredBecause("A social-work assessment is required to postpone a follow-up.")
    ] = Field(description="The social-work assessment (socialfaglig vurdering).")

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


def approval_names_version(version: int | None, info: ValidationInfo) -> int | None:
    """An approval names the plan version that carries the change."""
    if info.data.get("decision") is PlanChangeDecision.APPROVED and version is None:
        raise ValueError("is required when the decision is 'approved'")
    return version


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
    reason: Annotated[LongText, RequiredBecause("A reason is required to decide a plan-change request.")]
    team: ShortText
    resulting_plan_version: PlanVersion | None = Field(default=None, validate_default=True)

    @field_validator("resulting_plan_version")
    @classmethod
    def _version_with_approval(cls, value: int | None, info: ValidationInfo) -> int | None:
        return approval_names_version(value, info)


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
    note: Annotated[
        LongText, RequiredBecause("An assessment note is required to assess an absence notice.")
    ] = Field(description="The caseworker's assessment, kept in the case.")
    note_to_provider: ShortText | None = Field(
        default=None, description="What the provider should know; required for 'other'."
    )


class SetFollowUpCadence(CommandData):
    """Set the citizen's individual follow-up cadence under the trial, with the justification."""

    event_type = "dk.samspil.employment.command.set-follow-up-cadence.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "months": 6,
                    "justification_note": (
                        "Langt fra arbejdsmarkedet; samtaler hver 6. måned med mentor imellem."
                    ),
                }
            ]
        }
    )

    months: Annotated[int, Field(ge=1, le=12, description="Months between follow-ups (3 by default).")]
    justification_note: Annotated[
        LongText, RequiredBecause("A justification is required to give a citizen a cadence of their own.")
    ] = Field(description="Why this citizen's cadence differs.")


class ReferCitizen(CommandData):
    """Refer the citizen to an offer at a provider (henvisning til tilbud)."""

    event_type = "dk.samspil.employment.command.refer-citizen.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "offer": {
                        "kind": "activation",
                        "title": "Aktiveringsforløb med nedsat tid",
                        "hours_per_week": 10,
                        "starts_on": "2026-12-01",
                    },
                    "citizen_display_name": "Testborger A",
                    "jobcenter_contact": {"name": "Kim Testesen", "phone": "+45 12 34 56 78"},
                }
            ]
        }
    )

    referral_id: uuid.UUID = Field(
        default_factory=uuid.uuid4, description="Chosen by the sender, so a resent command is one referral."
    )
    provider_id: ProviderId
    offer: Offer
    job_plan_goal: ShortText | None = None
    citizen_display_name: Name
    jobcenter_contact: ContactPerson
    reporting_interval_days: ReportingIntervalDays = Field(
        default=DEFAULT_REPORTING_INTERVAL_DAYS,
        description="Days between the provider's progress reports (28, four weeks, when not given); "
        "the first is due this many days after the citizen starts.",
    )


class WithdrawReferral(CommandData):
    """Withdraw (cancel) a referral; the provider sees it cancelled."""

    event_type = "dk.samspil.employment.command.withdraw-referral.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20", "reason": "Borgeren er flyttet."}
            ]
        }
    )

    referral_id: uuid.UUID
    reason: Annotated[ShortText, RequiredBecause("A reason is required to withdraw a referral.")]
    reason_category: OptionalReasonCategory = None


class AssignTask(CommandData):
    """Assign a caseworker task to a caseworker."""

    event_type = "dk.samspil.employment.command.assign-task.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"task_id": "3c4d5e6f-7081-4923-a4b5-c6d7e8f90a1b", "assignee": "Kim Testesen"}]
        }
    )

    task_id: uuid.UUID
    assignee: Name


class CloseTask(CommandData):
    """Close a task that needs no decision of its own (e.g. reviewing a progress report)."""

    event_type = "dk.samspil.employment.command.close-task.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": "3c4d5e6f-7081-4923-a4b5-c6d7e8f90a1b",
                    "note": "Gennemgået med borgeren; forløbet fortsætter uændret.",
                }
            ]
        }
    )

    task_id: uuid.UUID
    note: Annotated[LongText, RequiredBecause("A note is required to close a task.")]


class AddCaseNote(CommandData):
    """Add a note to the citizen's case (append-only)."""

    event_type = "dk.samspil.employment.command.add-case-note.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Borgeren ringede; aftalt møde hos mentor i næste uge."}]}
    )

    text: LongText


class AcceptHandover(CommandData):
    """Accept the social department's handover: the jobcenter becomes the lead department again,
    with a plan revision or a referral toward an employment offer."""

    event_type = "dk.samspil.employment.command.accept-handover.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handover_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "from_date": "2027-03-01",
                    "job_plan_version": 5,
                    "team": _TEAM,
                }
            ]
        }
    )

    handover_id: uuid.UUID
    from_date: date
    job_plan_version: PlanVersion | None = None
    referral_id: uuid.UUID | None = Field(default=None, validate_default=True)
    team: ShortText

    @field_validator("referral_id")
    @classmethod
    def _toward_an_offer(cls, value: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        if value is None and info.data.get("job_plan_version") is None:
            raise ValueError("name the job plan version or the referral toward an employment offer")
        return value


class RejectHandover(CommandData):
    """Reject the social department's handover with a reason; the social department stays lead."""

    event_type = "dk.samspil.employment.command.reject-handover.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handover_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "reason": "Afventer lægelig vurdering af skånehensyn.",
                    "team": _TEAM,
                }
            ]
        }
    )

    handover_id: uuid.UUID
    reason: Annotated[LongText, RequiredBecause("A reason is required to reject a handover.")]
    team: ShortText


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

    justification: Annotated[LongText, RequiredBecause("A justification is required to request a handover.")]
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


_SOCIAL_TEAM = "Socialcenter Vest, team 2"


class TakeOverLead(CommandData):
    """The social department takes over the contact course for one of the most vulnerable
    citizens: it becomes the lead department."""

    event_type = "dk.samspil.social.command.take-over-lead.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_date": "2026-12-01",
                    "reason": "Massive sociale problemer; én indgang.",
                    "team": _SOCIAL_TEAM,
                }
            ]
        }
    )

    from_date: date
    reason: Annotated[LongText, RequiredBecause("A reason is required to take over as lead department.")]
    team: ShortText


class RecordSocialFollowUp(CommandData):
    """Record a follow-up the social department held while it leads the contact course."""

    event_type = "dk.samspil.social.command.record-follow-up.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "caseworker-meeting", "held_on": "2026-12-15"}]}
    )

    kind: FollowUpKind
    held_on: date
    note: LongText | None = None


class DecideSocialPlanChange(CommandData):
    """Decide a provider's request to change the social action plan."""

    event_type = "dk.samspil.social.command.decide-plan-change.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f",
                    "decision": "approved",
                    "reason": "Bostøtte to gange om ugen understøtter fremmødet.",
                    "team": _SOCIAL_TEAM,
                    "resulting_plan_version": 3,
                }
            ]
        }
    )

    submission_id: uuid.UUID
    decision: PlanChangeDecision
    reason: Annotated[LongText, RequiredBecause("A reason is required to decide a plan-change request.")]
    team: ShortText
    resulting_plan_version: PlanVersion | None = Field(default=None, validate_default=True)

    @field_validator("resulting_plan_version")
    @classmethod
    def _version_with_approval(cls, value: int | None, info: ValidationInfo) -> int | None:
        return approval_names_version(value, info)


class ObjectToDecision(CommandData):
    """Object to the other department's plan-change decision within the deadline; the joint
    specialist unit then rules."""

    event_type = "dk.samspil.social.command.object-to-decision.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision_id": "4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a",
                    "position": "Flere timer under angstbehandling risikerer tilbagefald.",
                    "team": _SOCIAL_TEAM,
                }
            ]
        }
    )

    decision_id: uuid.UUID
    position: Annotated[
        LongText, RequiredBecause("The team's position is required to object to a decision.")
    ] = Field(description="Why the team disagrees: its position for the specialist unit.")
    team: ShortText


class RuleDispute(CommandData):
    """The joint specialist unit (fælles specialenhed) rules on a dispute between the teams."""

    event_type = "dk.samspil.social.command.rule-dispute.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dispute_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
                    "outcome": "compromise",
                    "ruling": "12 timer om ugen til behandlingen er afsluttet, derefter 15.",
                }
            ]
        }
    )

    dispute_id: uuid.UUID
    outcome: RulingOutcome
    ruling: Annotated[LongText, RequiredBecause("The ruling is required to rule on a dispute.")] = Field(
        description="The ruling, for both teams."
    )
    summary_for_provider: ShortText | None = Field(
        default=None,
        description="What the provider who asked may read; without it the provider learns only the outcome.",
    )


class AssessReadiness(CommandData):
    """The social department's own assessment of whether the citizen is ready for more."""

    event_type = "dk.samspil.social.command.assess-readiness.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ready": True, "assessment": "Stabil i behandling; klar til praktik med mentor."}]
        }
    )

    ready: bool
    assessment: Annotated[
        LongText, RequiredBecause("An assessment is required to record a readiness assessment.")
    ]


class AddSocialCaseNote(CommandData):
    """Add a note to the citizen's social case (append-only)."""

    event_type = "dk.samspil.social.command.add-case-note.v1"
    topic = SOCIAL_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Hjemmebesøg; lejligheden er i orden."}]}
    )

    text: LongText


class ObjectToSocialPlanDecision(CommandData):
    """The jobcenter's team objects, within the deadline, to the social team's decision on a
    change to the social action plan; the joint specialist unit then rules."""

    event_type = "dk.samspil.employment.command.object-to-decision.v1"
    topic = EMPLOYMENT_COMMANDS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision_id": "4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a",
                    "position": "Bostøtte i arbejdstiden gør praktikken umulig.",
                    "team": _TEAM,
                }
            ]
        }
    )

    decision_id: uuid.UUID
    position: Annotated[
        LongText, RequiredBecause("The team's position is required to object to a decision.")
    ] = Field(description="Why the team disagrees: its position for the specialist unit.")
    team: ShortText
