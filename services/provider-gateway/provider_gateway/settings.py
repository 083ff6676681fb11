from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from samspil.runtime.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    """Read from PROVIDER_GATEWAY_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_GATEWAY_", extra="ignore", frozen=True)

    http_port: int = 8080
    token_secret: str = Field(min_length=32, description="Signs bearer tokens; keep it secret.")
    token_ttl_seconds: int = Field(default=900, le=900, description="At most 15 minutes.")
    rate_limit_per_second: float = Field(default=20.0, gt=0, description="Per provider, per gateway process.")
    rate_limit_burst: int = Field(default=60, ge=1)
    anonymous_rate_per_second: float = Field(
        default=5.0, gt=0, description="Per address, for token requests and requests without a valid token."
    )
    anonymous_burst: int = Field(default=30, ge=1)
    idempotency_key_retention_hours: float = Field(
        default=7 * 24,
        ge=24,
        description="How long an Idempotency-Key and its first response are kept (at least 24 "
        "hours: a provider may retry a request for that long and must get the same answer).",
    )
