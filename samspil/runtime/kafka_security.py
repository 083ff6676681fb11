"""How every Kafka client of a service reaches a secured cluster.

One function turns the settings into the keyword arguments aiokafka's clients take (producer,
consumer, admin client); FastStream's broker gets the same through its security object, whose
translation back to keyword arguments (``faststream.kafka.security.parse_security``) gives these
very ones, so no client connects differently from another. With ``PLAINTEXT`` (the default)
there are none, and every client keeps aiokafka's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
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


# ApiVersions v0 (api key 18), correlation id 1, client id "samspil-tls-check": the smallest
# request every Kafka broker answers, so a reply proves the whole TLS session works both ways.
_CLIENT_ID = b"samspil-tls-check"
_API_VERSIONS = (
    (2 + 2 + 4 + 2 + len(_CLIENT_ID)).to_bytes(4, "big")
    + (18).to_bytes(2, "big")
    + (0).to_bytes(2, "big")
    + (1).to_bytes(4, "big")
    + len(_CLIENT_ID).to_bytes(2, "big")
    + _CLIENT_ID
)


@dataclass(frozen=True)
class KafkaTlsProblem:
    """What is wrong with the TLS session, and whether that is certain. ``definite``: a
    certificate refused or not verified, which no retry mends (a service stops at start-up);
    otherwise a likely cause only, e.g. a proxy that closes after the handshake because the
    broker behind it is down (the service keeps trying, readiness names the likely cause)."""

    message: str
    definite: bool

    def __str__(self) -> str:
        return self.message


async def kafka_tls_problem(
    bootstrap_servers: str,
    context: ssl.SSLContext,
    *,
    timeout: float = 10.0,
    client_certificate: bool = True,
) -> KafkaTlsProblem | None:
    """What is wrong with the TLS session to the bootstrap brokers, in words an operator can act
    on (naming the variable to check), or None when a broker answered over TLS, or when none
    could be reached at all (not a TLS problem: the clients report and retry that themselves).
    ``client_certificate``: whether ``context`` presents one (a connection closed right after
    the handshake is then no proof that it was refused).

    aiokafka reports any failed connection as "Unable to bootstrap", the certificate's verdict
    only in a debug line; this asks each broker for its API versions over TLS and reads why
    that failed."""
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        host = host.strip("[]")
        try:
            async with asyncio.timeout(timeout):
                closed = await _ask_api_versions(host, int(port), context)
        except ssl.SSLCertVerificationError as error:
            return KafkaTlsProblem(_verify_problem(error, address.strip()), definite=True)
        except ssl.SSLError as error:
            return _handshake_problem(error, address.strip(), client_certificate)
        except (OSError, TimeoutError, ValueError):
            continue  # unreachable: try the next broker
        if not closed:
            return None
        # With TLS 1.3 a refused client certificate often shows only as the connection closing
        # after the handshake (the alert lost to the reset); so does a TLS proxy whose broker is
        # down. Without a client certificate to offer, the refusal is the likely one by far.
        return KafkaTlsProblem(
            f"Kafka TLS: the broker at {address.strip()} closed the connection after the TLS "
            f"handshake: {_CLIENT_CERTIFICATE_HINT}"
            + ("" if client_certificate else " (none is configured)"),
            definite=not client_certificate,
        )
    return None


async def _ask_api_versions(host: str, port: int, context: ssl.SSLContext) -> bool:
    """True when the broker closed the connection after the handshake without answering."""
    reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    try:
        try:
            writer.write(_API_VERSIONS)
            await writer.drain()
            await reader.readexactly(8)  # the reply's size and our correlation id
        except ssl.SSLError:
            raise  # the broker's alert says why
        except (asyncio.IncompleteReadError, OSError):
            return True
        return False
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _verify_problem(error: ssl.SSLCertVerificationError, address: str) -> str:
    detail = error.verify_message or _reason(error)
    if error.verify_code == _HOSTNAME_MISMATCH:
        return (
            f"Kafka TLS: certificate verify failed for {address}: {detail} (the broker's certificate "
            "does not name the host in KAFKA_BOOTSTRAP_SERVERS)"
        )
    return f"Kafka TLS: certificate verify failed for {address}: {detail} (check KAFKA_SSL_CA_FILE)"


_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
_CLIENT_CERTIFICATE_HINT = (
    "a client certificate it trusts may be required (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE)"
)
_CLIENT_CERTIFICATE_REFUSALS = (
    "CERTIFICATE_REQUIRED",
    "HANDSHAKE_FAILURE",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "ACCESS_DENIED",
)
# The alerts that name the certificate itself: the broker will refuse it next time too.
_CERTIFICATE_ALERTS = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN")


def _handshake_problem(error: ssl.SSLError, address: str, client_certificate: bool) -> KafkaTlsProblem:
    """Definite when the broker said so (any TLS alert it sent: a refused certificate, no shared
    protocol or cipher) or does not speak TLS at all (a plaintext listener): trying again will
    not change it. Anything else may pass (a proxy cut off mid-handshake, a reset)."""
    reason = str(getattr(error, "reason", None) or "")
    alerted = "ALERT" in reason
    if any(refusal in reason for refusal in _CLIENT_CERTIFICATE_REFUSALS):
        return KafkaTlsProblem(
            f"Kafka TLS: the broker at {address} refused the TLS handshake ({reason}): "
            f"{_CLIENT_CERTIFICATE_HINT}",
            definite=alerted
            or any(alert in reason for alert in _CERTIFICATE_ALERTS)
            or not client_certificate,
        )
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
        return KafkaTlsProblem(
            f"Kafka TLS: {address} does not answer in TLS ({reason}); is it a plaintext listener? "
            "(check KAFKA_BOOTSTRAP_SERVERS and KAFKA_SECURITY_PROTOCOL)",
            definite=True,
        )
    return KafkaTlsProblem(
        f"Kafka TLS: the TLS handshake with {address} failed ({reason or _reason(error)})", definite=alerted
    )
