"""Lead department: for the most vulnerable citizens the social department takes over the whole
contact course, so the citizen deals with one department; when ready, the citizen is handed
over to an employment offer while social measures continue."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import ConfigDict, Field, JsonValue

from schemas.base import EventData
from schemas.common import CaseworkerTeam, Department, LongText, PlanVersion
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS

_TEAM: dict[str, JsonValue] = {"department": "social", "team": "Socialcenter Vest, team 2"}


class LeadDepartmentTakenOver(EventData):
    """The social department took over the contact course (becomes the lead department)."""

    event_type = "dk.samspil.social.lead-department.taken-over.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lead_department": "social",
                    "from_date": "2026-12-01",
                    "reason": "Massive sociale problemer; én indgang til kommunen.",
                    "team": _TEAM,
                }
            ]
        }
    )

    lead_department: Department
    from_date: date
    reason: LongText
    team: CaseworkerTeam


class HandoverRequested(EventData):
    """The social department judges the citizen ready and asks employment to take over."""

    event_type = "dk.samspil.social.handover.requested.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handover_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "justification": "Stabil i behandling i fire måneder; ønsker praktik.",
                    "proposed_from": "2027-03-01",
                    "team": _TEAM,
                }
            ]
        }
    )

    handover_id: uuid.UUID
    justification: LongText
    proposed_from: date
    team: CaseworkerTeam


class HandoverAccepted(EventData):
    """Employment accepted the handover and becomes the lead department again."""

    event_type = "dk.samspil.employment.handover.accepted.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handover_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "from_date": "2027-03-01",
                    "job_plan_version": 5,
                    "team": {"department": "employment", "team": "Jobcenter Nord, team 3"},
                }
            ]
        }
    )

    handover_id: uuid.UUID
    from_date: date
    job_plan_version: PlanVersion | None = Field(
        default=None, description="The plan revision toward an offer."
    )
    referral_id: uuid.UUID | None = Field(default=None, description="Or the referral toward an offer.")
    team: CaseworkerTeam


class HandoverRejected(EventData):
    """Employment rejected the handover; the social department stays lead."""

    event_type = "dk.samspil.employment.handover.rejected.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handover_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "reason": "Afventer lægelig vurdering af skånehensyn.",
                    "team": {"department": "employment", "team": "Jobcenter Nord, team 3"},
                }
            ]
        }
    )

    handover_id: uuid.UUID
    reason: LongText
    team: CaseworkerTeam
