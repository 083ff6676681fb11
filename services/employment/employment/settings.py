from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from employment.service_layer.course import CourseRules
from samspil.runtime.auth import EMPLOYMENT_AUDIENCE, StaffAuthSettings
from samspil.runtime.settings import RuntimeSettings


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


class EmploymentSettings(RuntimeSettings, StaffAuthSettings, EnrolmentSettings):
    """Read from EMPLOYMENT_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="EMPLOYMENT_", extra="ignore", frozen=True)

    auth_audience: str = Field(
        default=EMPLOYMENT_AUDIENCE,
        min_length=1,
        description="The `aud` a caseworker's token must carry to be accepted here "
        "(EMPLOYMENT_AUTH_AUDIENCE); the other department's tokens are refused.",
    )
    http_port: int = 8081
    metrics_port: int = Field(default=9081, ge=1, le=65535)
    absence_task_working_days: int = Field(default=2, ge=1, le=30)
    handover_task_working_days: int = Field(default=5, ge=1, le=30)
    objection_working_days: int = Field(
        default=5, ge=1, le=30, description="Working days the team has to object to a social-plan decision."
    )
    ruling_working_days: int = Field(
        default=10,
        ge=1,
        le=60,
        description="Working days the joint specialist unit has to rule on a dispute.",
    )
    contact_course_scan_seconds: float = Field(
        default=60.0, gt=0, description="How often the scheduler looks for reminders and overdue follow-ups."
    )
    parked_after_months: int = Field(
        default=12, ge=1, le=120, description="Default period for the parked-citizens report."
    )
