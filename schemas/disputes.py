"""Disputes between the two caseworker teams, ruled by the joint specialist unit (fælles
specialenhed) acting as arbiter (opmand)."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import ConfigDict

from schemas.base import EventData
from schemas.common import CaseworkerTeam, LongText, PlanVersion
from schemas.topics import SOCIAL_EVENTS


class DisputeRaised(EventData):
    """One team objected to the other's decision; the specialist unit must rule."""

    event_type = "dk.samspil.dispute.raised.v1"
    topic = SOCIAL_EVENTS
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
