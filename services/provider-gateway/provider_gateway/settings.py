from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from provider_gateway.domain.credentials import DEFAULT_AUDIENCE, DEFAULT_ISSUER, MAX_TOKEN_LIFETIME
from samspil.runtime.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    """Read from PROVIDER_GATEWAY_* variables (plus the shared KAFKA_* and SAMSPIL_* ones)."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_GATEWAY_", extra="ignore", frozen=True)

    http_port: int = 8080
    metrics_port: int = Field(default=9080, ge=1, le=65535)
    token_secret: str = Field(min_length=32, description="Signs bearer tokens; keep it secret.")
    token_ttl_seconds: int = Field(
        default=900, ge=1, le=MAX_TOKEN_LIFETIME, description="At most 15 minutes."
    )
    token_issuer: str = Field(default=DEFAULT_ISSUER, min_length=1, description="The tokens' `iss` claim.")
    token_audience: str = Field(
        default=DEFAULT_AUDIENCE, min_length=1, description="The tokens' `aud` claim: the provider API."
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^?#\s]+$",
        description="The gateway's address as providers reach it (https://..., no query): the issuer "
        "and token endpoint in /.well-known/oauth-authorization-server. Unset: the address each "
        "request came to.",
    )
    rate_limit_per_second: float = Field(default=20.0, gt=0, description="Per provider, per gateway process.")
    rate_limit_burst: int = Field(default=60, ge=1)
    anonymous_rate_per_second: float = Field(
        default=5.0, gt=0, description="Per address, for token requests and requests without a valid token."
    )
    anonymous_burst: int = Field(default=30, ge=1)
    address_rate_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Per address, for every request, before the audit trail: a ceiling against "
        "floods, above every provider's own limit (providers behind one address share it).",
    )
    address_burst: int = Field(default=200, ge=1)
    rate_limit_max_buckets: int = Field(
        default=10_000,
        ge=1,
        description="How many providers or addresses each limiter remembers at most; the idlest "
        "are forgotten first.",
    )
    report_connections: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Database connections kept for recording reports, beside the service's own pool.",
    )
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies in front of the gateway, comma-separated IPs or CIDRs. When the "
        "connecting peer is one, the caller's address is the right-most X-Forwarded-For entry that "
        "is not; empty (the default) means the peer's address, X-Forwarded-For ignored.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    idempotency_key_retention_hours: float = Field(
        default=7 * 24,
        ge=24,
        description="How long an Idempotency-Key and its first response are kept (at least 24 "
        "hours: a provider may retry a request for that long and must get the same answer).",
    )
