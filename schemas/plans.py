"""Plan summaries: what each department may see of the other's plan. Versions, goal, and the
categories of activities or measures with dates and hours; never case notes or diagnoses."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.common import (
    HoursPerWeek,
    Name,
    PlanVersion,
    ProviderId,
    ShortText,
    Strict,
    end_not_before_start,
)
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS


class Period(Strict):
    starts_on: date
    ends_on: date | None = None
    hours_per_week: HoursPerWeek | None = None

    @field_validator("ends_on")
    @classmethod
    def _end(cls, value: date | None, info: ValidationInfo) -> date | None:
        end_not_before_start(info.data.get("starts_on"), value, "ends_on")
        return value


class ActivityCategory(StrEnum):
    """Job-plan activities; under the free-municipality trial, measures under the Social
    Services Act or the Health Act may count toward the plan too."""

    EMPLOYMENT_OFFER = "employment-offer"
    COMPANY_INTERNSHIP = "company-internship"
    WAGE_SUBSIDY = "wage-subsidy"
    EDUCATION = "education"
    MENTOR = "mentor"
    SOCIAL_SERVICES_MEASURE = "social-services-measure"
    HEALTH_MEASURE = "health-measure"
    OTHER = "other"


class JobPlanActivity(Period):
    category: ActivityCategory
    title: Name
    provider_id: ProviderId | None = None


class JobPlanRevised(EventData):
    """A new version of the citizen's job plan (jobplan / "Min Plan"), as the summary the social
    department may see."""

    event_type = "dk.samspil.employment.job-plan.revised.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan_version": 3,
                    "goal": "Afklaring af arbejdsevne; på sigt job i lager og logistik.",
                    "activities": [
                        {
                            "category": "employment-offer",
                            "title": "Aktiveringsforløb med nedsat tid",
                            "provider_id": "aktivcenter-nord",
                            "starts_on": "2026-12-01",
                            "ends_on": "2027-05-31",
                            "hours_per_week": 10,
                        }
                    ],
                }
            ]
        }
    )

    plan_version: PlanVersion
    goal: ShortText
    activities: Annotated[list[JobPlanActivity], Field(max_length=50)] = Field(default_factory=list)


class MeasureCategory(StrEnum):
    HOUSING_SUPPORT = "housing-support"
    ADDICTION_TREATMENT = "addiction-treatment"
    MENTAL_HEALTH_TREATMENT = "mental-health-treatment"
    MENTOR = "mentor"
    FAMILY = "family"
    HEALTH = "health"
    OTHER = "other"


class SocialMeasure(Period):
    category: MeasureCategory
    provider_id: ProviderId | None = None
    compatible_with_activation: bool = Field(
        default=True, description="False when employment activities should wait while it runs."
    )


class SocialPlanRevised(EventData):
    """A new version of the citizen's social action plan (social handleplan, Serviceloven
    § 141), as the summary the employment department may see."""

    event_type = "dk.samspil.social.social-plan.revised.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan_version": 2,
                    "goal": "Stabil boligsituation og regelmæssig behandling.",
                    "measures": [
                        {"category": "housing-support", "starts_on": "2026-10-01", "hours_per_week": 3},
                        {
                            "category": "mental-health-treatment",
                            "starts_on": "2026-11-01",
                            "ends_on": "2027-01-31",
                            "compatible_with_activation": False,
                        },
                    ],
                    "weekly_capacity_hours": 15,
                }
            ]
        }
    )

    plan_version: PlanVersion
    goal: ShortText
    measures: Annotated[list[SocialMeasure], Field(max_length=50)] = Field(default_factory=list)
    weekly_capacity_hours: HoursPerWeek | None = Field(
        default=None, description="How many hours a week the citizen can manage across both plans."
    )


class SocialPlanSummaryWithdrawn(EventData):
    """The basis for sharing the social plan summary ended (e.g. consent withdrawn): the
    employment department must remove its copy."""

    event_type = "dk.samspil.social.social-plan.summary-withdrawn.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(json_schema_extra={"examples": [{"withdrawn_on": "2027-01-10"}]})

    withdrawn_on: date
