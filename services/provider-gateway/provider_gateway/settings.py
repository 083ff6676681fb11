from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
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
        "and token endpoint in /.well-known/oauth-authorization-server. Required there outside "
        "local mode (unset: that answers 503 naming this setting) and https only; in local mode, "
        "unset means the address each request came to.",
    )
    local_mode: bool = Field(
        default=False,
        description="The local stack and tests (`samspil up` sets it): the metadata may name a plain "
        "http address, or the one each request came to, and webhooks go to any address over http "
        "too (as PROVIDER_GATEWAY_WEBHOOK_LOCAL_MODE). Off in production.",
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

    @model_validator(mode="before")
    @classmethod
    def _local_mode_covers_webhooks(cls, data: Any) -> Any:
        # One switch for the local stack: local mode implies the webhooks' unless that is set.
        if not isinstance(data, dict) or "webhook_local_mode" in data:
            return data
        try:
            local = TypeAdapter(bool).validate_python(data.get("local_mode", False))
        except ValidationError:
            return data  # the field's own validation names it
        return {**data, "webhook_local_mode": True} if local else data

    @model_validator(mode="after")
    def _public_url_is_https(self) -> Self:
        if self.public_url is not None and not self.local_mode and not self.public_url.startswith("https://"):
            raise ValueError(
                "PROVIDER_GATEWAY_PUBLIC_URL must be https:// outside local mode: providers send "
                "their client secrets to the token endpoint it names"
            )
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    webhook_local_mode: bool = Field(
        default=False,
        description="Deliver webhooks to any address and over plain http too (the local stack and "
        "tests). Off in production: endpoints must be https and resolve only to public addresses.",
    )
    webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="Seals the endpoints' signing secrets in the database (AES-GCM, key derived by "
        "HKDF). Unset: derived from the token secret, so rotating that makes the stored webhook "
        "secrets unreadable (the providers then rotate them).",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one delivery attempt may take in all."
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="The wait after the first failed attempt; doubled after each."
    )
    webhook_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="The longest wait between two attempts."
    )
    webhook_give_up_hours: float = Field(
        default=24.0,
        ge=24,
        description="A delivery failing this long after its first attempt is given up and its "
        "endpoint disabled (at least 24 hours).",
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often each replica looks for deliveries that are due."
    )
    webhook_batch_size: int = Field(
        default=20, ge=1, le=500, description="Deliveries one replica attempts at once."
    )
    webhook_max_endpoints: int = Field(default=10, ge=1, description="Endpoints a provider may register.")
    webhook_delivery_retention_days: float = Field(
        default=30,
        gt=0,
        description="How long delivered and given-up deliveries are kept for the provider's list.",
    )

    # The provider portal (provider_gateway.portal): sessions, login, OpenID Connect.
    portal_idle_minutes: float = Field(
        default=30, gt=0, le=24 * 60, description="A portal session unused this long ends (login again)."
    )
    portal_session_hours: float = Field(
        default=12, gt=0, le=7 * 24, description="A portal session ends this long after login, used or not."
    )
    portal_login_attempts: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords in a row after which a portal account is locked for "
        "PROVIDER_GATEWAY_PORTAL_LOCKOUT_MINUTES (a right one resets the count).",
    )
    portal_lockout_minutes: float = Field(
        default=15, gt=0, description="How long a portal account stays locked after too many wrong passwords."
    )
    portal_oidc_issuer: str | None = Field(
        default=None,
        pattern=r"^https?://[^?#\s]+$",
        description="The OpenID Connect provider people log in with (its discovery document is at "
        "<issuer>/.well-known/openid-configuration). Unset: the built-in user store only.",
    )
    portal_oidc_client_id: str | None = Field(default=None, description="The portal's client id there.")
    portal_oidc_client_secret: SecretStr | None = Field(
        default=None, description="The portal's client secret there."
    )
    portal_oidc_provider_claim: str = Field(
        default="provider_id",
        min_length=1,
        description="The ID token's claim naming the provider the person works for.",
    )
    portal_oidc_scopes: str = Field(
        default="openid email profile", description="The scopes asked for, space-separated."
    )

    @model_validator(mode="after")
    def _oidc_complete(self) -> Self:
        if self.portal_oidc_issuer is not None:
            if not self.portal_oidc_client_id or self.portal_oidc_client_secret is None:
                raise ValueError(
                    "PROVIDER_GATEWAY_PORTAL_OIDC_ISSUER needs PROVIDER_GATEWAY_PORTAL_OIDC_CLIENT_ID and "
                    "PROVIDER_GATEWAY_PORTAL_OIDC_CLIENT_SECRET"
                )
            if not self.local_mode and not self.portal_oidc_issuer.startswith("https://"):
                raise ValueError("PROVIDER_GATEWAY_PORTAL_OIDC_ISSUER must be https:// outside local mode")
        return self
