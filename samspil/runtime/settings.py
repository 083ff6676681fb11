"""Settings every service shares. Each service subclasses it with its own env prefix; the broker
address and a few runtime switches are read without prefix so one variable serves all."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(description="PostgreSQL URL of this service's own database.")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Interface of the internal metrics listener (GET /metrics); never the public one.",
    )
    metrics_port: int = Field(
        default=9080, ge=1, le=65535, description="Port of the internal metrics listener."
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_enable_idempotence: bool = Field(
        default=True,
        validation_alias=AliasChoices("KAFKA_ENABLE_IDEMPOTENCE"),
        description="On for Apache Kafka. The embedded Tansu broker cannot do it, so the local "
        "runner turns it off; correctness never depends on it.",
    )
    kafka_create_topics: bool = Field(
        default=True,
        validation_alias=AliasChoices("KAFKA_CREATE_TOPICS"),
        description="Create missing topics from the catalogue at start-up.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        validation_alias=AliasChoices("KAFKA_FETCH_MAX_WAIT_MS"),
        description="How long a consumer's fetch may wait for data. Apache Kafka answers as soon as "
        "data arrives; the embedded Tansu broker waits out the full time, so the local runner "
        "lowers it to keep latency down.",
    )
    kafka_session_timeout_ms: int = Field(
        default=10000,
        ge=1000,
        validation_alias=AliasChoices("KAFKA_SESSION_TIMEOUT_MS"),
        description="How long the broker waits for a silent consumer before giving its partitions "
        "to another; a restarted service waits out its predecessor's session.",
    )
    kafka_replication_factor: int = Field(
        default=1, validation_alias=AliasChoices("KAFKA_REPLICATION_FACTOR")
    )
    broker_epoch: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SAMSPIL_BROKER_EPOCH"),
        description="Set by the local runner to a new value whenever it starts a fresh in-memory "
        "broker; the outbox then publishes its retained events again.",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", validation_alias=AliasChoices("SAMSPIL_LOG_FORMAT")
    )
    log_level: str = Field(default="info", validation_alias=AliasChoices("SAMSPIL_LOG_LEVEL"))

    dead_letter_key: str = Field(
        min_length=32,
        description="Secret key of the keyed hash (HMAC-SHA256) that stands in for any text holding "
        "a CPR number in a dead letter; each service its own, kept secret.",
    )

    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.5
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    stop_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="The longest an orderly stop takes, the broker reachable or not: what the "
        "outbox has not published by then stays in it and is published after the next start.",
    )

    retention_scan_seconds: float = Field(
        default=600.0, gt=0, description="How often the scheduler purges rows past their retention."
    )
    retention_batch_size: int = Field(
        default=1000, ge=1, le=100_000, description="Rows deleted per statement when purging."
    )
    inbox_retention_margin_hours: float = Field(
        default=7 * 24,
        ge=24,
        description="How long an inbox row outlives its topic's retention (counted from when the "
        "event was last seen): the broker may hold a record that long past retention (a log "
        "segment is deleted only whole, and Kafka rolls one after at most segment.ms, 7 days by "
        "default). Never less than a day.",
    )
    replayed_dead_letter_retention_days: float = Field(
        default=7,
        ge=1,
        description="How long a replayed dead letter is kept; any dead letter goes once its source "
        "topic's retention has passed.",
    )
