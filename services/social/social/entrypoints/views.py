"""What the social service's API shows, as typed models, so the OpenAPI document says it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

from samspil.runtime.paging import Page
from schemas.plans import JobPlanActivity, SocialMeasure


class LeadOut(BaseModel):
    lead: str
    since: date
    reason: str | None


class SocialPlanOut(BaseModel):
    version: int
    goal: str
    measures: list[SocialMeasure]
    weekly_capacity_hours: float | None
    revised_by: str
    revised_at: datetime


class JobPlanSummaryOut(BaseModel):
    """What the social department may see of the job plan, and on what basis."""

    plan_version: int
    goal: str
    activities: list[JobPlanActivity]
    legal_basis: str
    received_at: datetime


class OfferStartedOut(BaseModel):
    referral_id: uuid.UUID
    provider_id: str
    offer_kind: str
    offer_title: str
    hours_per_week: float
    started_on: date
    expected_end_on: date | None


class FollowUpOut(BaseModel):
    kind: str
    held_on: date
    note: str | None
    recorded_by: str


class HandoverOut(BaseModel):
    handover_id: uuid.UUID
    justification: str
    proposed_from: date
    status: str
    answer: str | None


class DecisionOut(BaseModel):
    """A plan-change decision under the protocol: the jobcenter's, which the social team may
    object to, or the social team's own, whose window the jobcenter holds."""

    decision_id: uuid.UUID
    deciding_department: str
    deciding_team: str
    submission_id: uuid.UUID | None
    target_plan: str
    decision: str
    reason: str
    resulting_plan_version: int | None
    object_by: date
    status: str
    final_outcome: str | None
    final_summary: str | None


class DisputeOut(BaseModel):
    dispute_id: uuid.UUID
    decision_id: uuid.UUID
    raised_by: str
    employment_position: str
    social_position: str
    rule_by: date
    status: str
    outcome: str | None
    ruling: str | None


class DisputeListed(DisputeOut):
    citizen_ref: str
    overdue: bool


class DisputePage(Page[DisputeListed]):
    """A page of disputes, the soonest deadline first."""


class ReadinessOut(BaseModel):
    ready: bool
    assessment: str
    assessed_by: str
    assessed_at: datetime


class ConsentView(BaseModel):
    consent_id: uuid.UUID
    information: str
    to_department: str | None
    to_provider_id: str | None
    purpose: str
    given_on: date
    expires_on: date
    withdrawn_on: date | None


class ShareOut(BaseModel):
    """One share of the citizen's information: what, with whom, on what basis, by whom, when."""

    information: str
    recipient: str
    basis: str
    shared_by: str
    event_id: uuid.UUID
    shared_at: datetime


class NoteOut(BaseModel):
    id: int
    author: str
    text: str
    written_at: datetime


class NotePage(Page[NoteOut]):
    """A page of the social case notes, oldest first."""


class SocialCaseOut(BaseModel):
    """The social case at a glance."""

    citizen_ref: str
    lead: LeadOut | None
    social_plan: SocialPlanOut | None
    job_plan_summary: JobPlanSummaryOut | None
    offers_started: list[OfferStartedOut]
    follow_ups: list[FollowUpOut]
    handovers: list[HandoverOut]
    decisions: list[DecisionOut]
    disputes: list[DisputeOut]
    readiness_assessments: list[ReadinessOut]
    consents: list[ConsentView]
    shares: list[ShareOut]
