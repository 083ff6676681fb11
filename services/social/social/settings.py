from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from samspil.runtime.auth import StaffAuthSettings
from samspil.runtime.settings import RuntimeSettings


class SocialSettings(RuntimeSettings, StaffAuthSettings):
    """Read from SOCIAL_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="SOCIAL_", extra="ignore", frozen=True)

    http_port: int = 8082
    task_working_days: int = 5
    objection_working_days: int = Field(
        default=5, ge=1, le=30, description="Working days the social team has to object to a decision."
    )
