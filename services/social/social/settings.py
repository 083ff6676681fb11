from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from samspil.runtime.auth import SOCIAL_AUDIENCE, StaffAuthSettings
from samspil.runtime.settings import RuntimeSettings


class SocialSettings(RuntimeSettings, StaffAuthSettings):
    """Read from SOCIAL_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="SOCIAL_", extra="ignore", frozen=True)

    auth_audience: str = Field(
        default=SOCIAL_AUDIENCE,
        min_length=1,
        description="The `aud` a caseworker's token must carry to be accepted here "
        "(SOCIAL_AUTH_AUDIENCE); the other department's tokens are refused.",
    )
    http_port: int = 8082
    metrics_port: int = Field(default=9082, ge=1, le=65535)
    task_working_days: int = 5
    objection_working_days: int = Field(
        default=5, ge=1, le=30, description="Working days the social team has to object to a decision."
    )
    ruling_working_days: int = Field(
        default=10,
        ge=1,
        le=60,
        description="Working days the joint specialist unit has to rule on a dispute.",
    )
    deadline_scan_seconds: float = Field(
        default=60.0, gt=0, description="How often objection and ruling deadlines are checked."
    )
    kpi_gauge_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the KPI gauges (samspil_kpi_*, the last 30 days) are read from the database.",
    )
    social_plan_share_statute: str | None = Field(
        default=None,
        max_length=180,
        description="A recorded statutory basis on which the social plan summary goes to the jobcenter "
        "without consent; unset, only a consent allows it.",
    )
    citizen_ref_key: str = Field(
        min_length=32,
        validation_alias=AliasChoices("SAMSPIL_CITIZEN_REF_KEY"),
        description="Key of the citizen reference (HMAC of the CPR number); the same as the jobcenter's.",
    )
    citizen_ref_key_id: str = Field(
        default="k1",
        pattern=r"^[a-z0-9][a-z0-9-]{0,15}$",
        validation_alias=AliasChoices("SAMSPIL_CITIZEN_REF_KEY_ID"),
    )
