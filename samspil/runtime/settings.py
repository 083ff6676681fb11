"""Settings every service shares. Each service subclasses it with its own env prefix; the broker
address and a few runtime switches are read without prefix so one variable serves all."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class RuntimeSettings(BaseSettings):
    # hide_input_in_errors: a refused setting's message never repeats its value (a password).
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    database_url: str = Field(
        description="PostgreSQL URL of this service's own database. TLS is set in its query, e.g. "
        "?sslmode=verify-full&sslrootcert=/etc/samspil/pg-ca.pem (also sslcert, sslkey), or by "
        "PGSSLMODE and PGSSLROOTCERT; every connection the service and the CLI open uses it."
    )
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
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL"),
        description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SASL_MECHANISM"),
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; required with a SASL protocol.",
    )
    kafka_sasl_username: str | None = Field(
        default=None, min_length=1, validation_alias=AliasChoices("KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD")
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SSL_CA_FILE"),
        description="PEM file of the CA that signed the brokers' certificates; the system's CAs "
        "when unset. SSL and SASL_SSL only.",
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SSL_CERT_FILE"),
        description="PEM client certificate for mutual TLS; needs KAFKA_SSL_KEY_FILE.",
    )
    kafka_ssl_key_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SSL_KEY_FILE"),
        description="PEM private key of the client certificate.",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SSL_KEY_PASSWORD"),
        description="Password of an encrypted client key.",
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
    broker_check_seconds: float = Field(
        default=5.0,
        ge=0,
        validation_alias=AliasChoices("SAMSPIL_BROKER_CHECK_SECONDS"),
        description="How often each service asks the broker for its cluster id: a new one (a broker "
        "that lost its data, like the embedded one after a restart) makes the service create the "
        "topics again, its consumers read from the beginning (they deduplicate) and its outbox publish "
        "its retained events again. The outbox also asks before each batch it publishes. Meant for the "
        "embedded broker, which forgets its data on restart; on a real cluster, whose id never changes "
        "unless it is rebuilt empty, it is harmless but costs one metadata request per outbox batch. "
        "0 turns both the watch and the outbox's check off.",
    )
    broker_outage_log_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("SAMSPIL_BROKER_OUTAGE_LOG_SECONDS"),
        description="While the broker cannot be reached, one line per this many seconds with the "
        "count of failed attempts; the Kafka libraries' own repeated lines are held to one per "
        "this many seconds each.",
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
    consumer_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices("SAMSPIL_CONSUMER_BATCH_SIZE"),
        description="Most records a consumer handles in one database transaction (one commit of "
        "offsets); a batch holds what one fetch brought, so under light load it is one record.",
    )
    consumer_batch_wait_ms: int = Field(
        default=50,
        ge=1,
        le=1000,
        validation_alias=AliasChoices("SAMSPIL_CONSUMER_BATCH_WAIT_MS"),
        description="How long a consumer waits for records when it has none, before it asks again "
        "(a record arriving then waits at most this long).",
    )
    outbox_batch_size: int = Field(
        default=2000,
        ge=1,
        le=20_000,
        description="The most outbox rows the relay publishes per batch (its mark statement lists them).",
    )
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
    idempotency_key_retention_hours: float = Field(
        default=7 * 24,
        ge=24,
        description="How long an Idempotency-Key and its first response are kept (at least 24 "
        "hours: a caller may retry a request for that long and must get the same answer).",
    )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        problems = _kafka_security_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _kafka_security_problems(settings: RuntimeSettings) -> list[str]:
    """What is missing or contradictory in the Kafka security settings, naming the variables
    (never a value: the variables hold secrets)."""
    protocol = settings.kafka_security_protocol
    sasl = protocol.startswith("SASL_")
    tls = protocol in ("SSL", "SASL_SSL")
    problems = []
    sasl_values = {
        "KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism,
        "KAFKA_SASL_USERNAME": settings.kafka_sasl_username,
        "KAFKA_SASL_PASSWORD": settings.kafka_sasl_password,
    }
    for variable, value in sasl_values.items():
        if sasl and value is None:
            problems.append(f"{variable} is required when KAFKA_SECURITY_PROTOCOL is {protocol}")
        elif not sasl and value is not None:
            problems.append(f"{variable} is set but KAFKA_SECURITY_PROTOCOL is {protocol}, not SASL_*")
    files = {
        "KAFKA_SSL_CA_FILE": settings.kafka_ssl_ca_file,
        "KAFKA_SSL_CERT_FILE": settings.kafka_ssl_cert_file,
        "KAFKA_SSL_KEY_FILE": settings.kafka_ssl_key_file,
    }
    tls_values = {**files, "KAFKA_SSL_KEY_PASSWORD": settings.kafka_ssl_key_password}
    for variable, tls_value in tls_values.items():
        if not tls and tls_value is not None:
            problems.append(
                f"{variable} is set but KAFKA_SECURITY_PROTOCOL is {protocol}, not SSL or SASL_SSL"
            )
    for variable, path in files.items():
        if tls and path is not None and not path.is_file():
            problems.append(f"{variable}: no such file: {path}")
    if tls and (settings.kafka_ssl_cert_file is None) != (settings.kafka_ssl_key_file is None):
        problems.append("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE must be set together (mutual TLS)")
    if tls and settings.kafka_ssl_key_password is not None and settings.kafka_ssl_key_file is None:
        problems.append("KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY_FILE")
    return problems
