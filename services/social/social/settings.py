from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from samspil.runtime.settings import RuntimeSettings


class SocialSettings(RuntimeSettings):
    """Read from SOCIAL_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="SOCIAL_", extra="ignore", frozen=True)

    http_port: int = 8082
    task_working_days: int = 5
