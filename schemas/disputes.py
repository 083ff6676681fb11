"""Disputes between the two caseworker teams, ruled by the joint specialist unit (fælles
specialenhed) acting as arbiter (opmand)."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field

from schemas.base import EventData
from schemas.common import CaseworkerTeam, LongText, PlanVersion, ProviderId, ShortText
from schemas.provider_reports import TargetPlan
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS, Topic


class DisputeRaised(EventData):
    """One team objected to the other's decision; the specialist unit must rule."""

    event_type = "dk.samspil.dispute.raised.v1"
    topic = SOCIAL_EVENTS
    topics: ClassVar[tuple[Topic, ...]] = (EMPLOYMENT_EVENTS, SOCIAL_EVENTS)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dispute_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
                    "decision_id": "4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a",
                    "raised_by": {"department": "social", "team": "Socialcenter Vest, team 2"},
                    "employment_position": "15 timer om ugen understøtter målet om praktik.",
                    "social_position": "Flere timer under angstbehandling risikerer tilbagefald.",
                    "rule_by": "2027-01-20",
                }
            ]
        }
    )

    dispute_id: uuid.UUID
    decision_id: uuid.UUID
    raised_by: CaseworkerTeam
    employment_position: LongText
    social_position: LongText
    rule_by: date


class RulingOutcome(StrEnum):
    EMPLOYMENT_POSITION = "employment-position"
    SOCIAL_POSITION = "social-position"
    COMPROMISE = "compromise"


class FinalOutcome(StrEnum):
    """What holds in the end: the decision as made, or as the specialist unit ruled."""

    APPROVED = "approved"
    REJECTED = "rejected"
    EMPLOYMENT_POSITION = "employment-position"
    SOCIAL_POSITION = "social-position"
    COMPROMISE = "compromise"


class DisputeRuled(EventData):
    """The joint specialist unit ruled; both sides apply the ruling."""

    event_type = "dk.samspil.dispute.ruled.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dispute_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
                    "outcome": "compromise",
                    "ruling": "12 timer om ugen til behandlingen er afsluttet, derefter 15.",
                    "job_plan_version": 5,
                }
            ]
        }
    )

    dispute_id: uuid.UUID
    outcome: RulingOutcome
    ruling: LongText
    job_plan_version: PlanVersion | None = None
    social_plan_version: PlanVersion | None = None


class FinalVia(StrEnum):
    UNOPPOSED = "unopposed"
    RULING = "ruling"


class PlanChangeDecisionFinal(EventData):
    """A team's plan-change decision became final: the other team did not object within the
    deadline, or the joint specialist unit ruled. Published by the department that held the
    objection window (or the specialist unit's), so both sides and the provider see one outcome."""

    event_type = "dk.samspil.plan-change.decision-final.v1"
    topic = SOCIAL_EVENTS
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
                    "via": "ruling",
                    "outcome": "compromise",
                    "summary": "12 timer om ugen til behandlingen er afsluttet, derefter 15.",
                }
            ]
        }
    )

    decision_id: uuid.UUID
    submission_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    provider_id: ProviderId | None = None
    target_plan: TargetPlan
    via: FinalVia
    outcome: FinalOutcome
    summary: LongText = Field(description="What now holds: the decision's reason or the ruling.")


class DisputeOverdue(EventData):
    """The specialist unit has not ruled by its deadline: both teams are told."""

    event_type = "dk.samspil.dispute.overdue.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"dispute_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9", "rule_by": "2027-01-20"}]
        }
    )

    dispute_id: uuid.UUID
    rule_by: date


class ConflictRule(StrEnum):
    """Ways the two plans can pull against each other."""

    HOURS_OVER_CAPACITY = "hours-over-capacity"
    ACTIVITY_DURING_INCOMPATIBLE_MEASURE = "activity-during-incompatible-measure"


class PlanConflictDetected(EventData):
    """The job plan and the social plan summary pull against each other: both teams get a task."""

    event_type = "dk.samspil.plan-conflict.detected.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conflict_id": "5e6f7081-92a3-4b4c-9d5e-6f708192a3b4",
                    "rule": "hours-over-capacity",
                    "explanation": "18 timer om ugen i alt, men borgeren kan klare 15.",
                    "job_plan_version": 4,
                    "social_plan_version": 2,
                }
            ]
        }
    )

    conflict_id: uuid.UUID
    rule: ConflictRule
    explanation: ShortText
    job_plan_version: PlanVersion
    social_plan_version: PlanVersion
