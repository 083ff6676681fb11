from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from samspil.runtime.settings import RuntimeSettings


class EmploymentSettings(RuntimeSettings):
    """Read from EMPLOYMENT_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="EMPLOYMENT_", extra="ignore", frozen=True)

    http_port: int = 8081
    absence_task_working_days: int = 2
