from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from employment.enrolment_settings import EnrolmentSettings
from employment.service_layer.progress_reports import ProgressRules
from samspil.runtime.auth import EMPLOYMENT_AUDIENCE, StaffAuthSettings
from samspil.runtime.settings import RuntimeSettings


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
    progress_report_notice_days: int = Field(
        default=5,
        ge=0,
        le=30,
        description="Days before a progress report is due that the provider is reminded "
        "(a progress-report-due entry in its feed).",
    )
    progress_report_task_working_days: int = Field(
        default=3,
        ge=1,
        le=30,
        description="Working days the caseworker has to chase a progress report that did not arrive.",
    )
    parked_after_months: int = Field(
        default=12, ge=1, le=120, description="Default period for the parked-citizens report."
    )
    kpi_gauge_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the KPI gauges (samspil_kpi_*, the last 30 days) are read from the database.",
    )

    def progress_rules(self) -> ProgressRules:
        return ProgressRules(
            notice_days=self.progress_report_notice_days,
            task_working_days=self.progress_report_task_working_days,
        )
