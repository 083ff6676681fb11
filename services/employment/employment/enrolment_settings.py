"""The settings enrolment needs, apart from the rest of the service's: `samspil import` reads
them from the same variables as the service, without the broker, tokens and keys it has no use
for. The service's own settings (settings.py) include them."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from employment.service_layer.course import CourseRules


class EnrolmentSettings(BaseSettings):
    """What enrolling a citizen and making a job plan need, through the API or through
    `samspil import`: read from the same variables in both."""

    model_config = SettingsConfigDict(
        env_prefix="EMPLOYMENT_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    follow_up_reminder_days: int = Field(
        default=14, ge=0, le=90, description="Days before a follow-up falls due that the reminder comes."
    )
    job_plan_share_basis: str = Field(
        default="statute: frikommuneforsøg, koordineret indsats for fælles borgere",
        min_length=1,
        max_length=200,
        description="The recorded statutory basis on which job-plan summaries and plan-change "
        "decisions are shared with the social department; carried on each such event.",
    )
    citizen_ref_key: str = Field(
        min_length=32,
        validation_alias=AliasChoices("SAMSPIL_CITIZEN_REF_KEY"),
        description="Key of the citizen reference (HMAC of the CPR number); the same in the "
        "employment and social services, and secret.",
    )
    citizen_ref_key_id: str = Field(
        default="k1",
        pattern=r"^[a-z0-9][a-z0-9-]{0,15}$",
        validation_alias=AliasChoices("SAMSPIL_CITIZEN_REF_KEY_ID"),
    )

    def course_rules(self) -> CourseRules:
        return CourseRules(reminder_days=self.follow_up_reminder_days)
