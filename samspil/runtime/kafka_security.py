"""How every Kafka client of a service reaches a secured cluster.

One function turns the settings into the keyword arguments aiokafka's clients take (producer,
consumer, admin client); FastStream's broker gets the same through its security object, whose
translation back to keyword arguments (``faststream.kafka.security.parse_security``) gives these
very ones, so no client connects differently from another. With ``PLAINTEXT`` (the default)
there are none, and every client keeps aiokafka's defaults.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from samspil.runtime.settings import RuntimeSettings

_SASL: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


class KafkaSecurityError(ValueError):
    """The TLS files could not be used; the message names the variables, never a secret."""


def kafka_client_options(settings: RuntimeSettings) -> dict[str, Any]:
    """The security keyword arguments for every aiokafka client (and, through
    :func:`faststream_security`, FastStream's broker). Builds the TLS context, so a CA, certificate
    or key that cannot be loaded is refused here, at start-up."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol, "ssl_context": None}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        # The settings refuse a SASL protocol without these three.
        assert settings.kafka_sasl_password is not None
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return options


def faststream_security(options: Mapping[str, Any]) -> BaseSecurity | None:
    """FastStream's security object for :func:`kafka_client_options`' arguments."""
    if not options:
        return None
    context: ssl.SSLContext | None = options["ssl_context"]
    mechanism = options.get("sasl_mechanism")
    if mechanism is None:
        return BaseSecurity(ssl_context=context)
    return _SASL[mechanism](
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=context,
        use_ssl=context is not None,
    )


def _ssl_context(settings: RuntimeSettings) -> ssl.SSLContext:
    """Verifies the brokers' certificates and host names (against the CA file, or the system's
    CAs), and presents the client certificate when one is configured."""
    ca_file = settings.kafka_ssl_ca_file
    try:
        context = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None
        )
    except (ssl.SSLError, OSError) as error:
        raise KafkaSecurityError(
            f"KAFKA_SSL_CA_FILE: cannot be read as PEM CA certificates ({_reason(error)})"
        ) from error
    if settings.kafka_ssl_cert_file is not None and settings.kafka_ssl_key_file is not None:
        password = settings.kafka_ssl_key_password
        try:
            context.load_cert_chain(
                settings.kafka_ssl_cert_file,
                settings.kafka_ssl_key_file,
                # A callable, so an encrypted key without a password fails instead of OpenSSL
                # prompting on a terminal that a service does not have.
                password=lambda: password.get_secret_value() if password is not None else "",
            )
        except (ssl.SSLError, OSError) as error:
            raise KafkaSecurityError(
                "KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE: cannot load the client certificate and key "
                f"(not PEM, not a pair, or a wrong or missing KAFKA_SSL_KEY_PASSWORD: {_reason(error)})"
            ) from error
    return context


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or getattr(error, "strerror", None)
    return str(reason) if reason else type(error).__name__
