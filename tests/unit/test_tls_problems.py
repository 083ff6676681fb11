"""What a service says when a TLS session fails, and that it stays silent when the failure is
no TLS one (an unreachable broker is reported and retried by the clients themselves). The
refusals themselves are shown against real TLS proxies in tests/e2e/test_secured_connections.py."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from samspil.local.runner import free_port
from samspil.runtime.db import database_tls_problem
from samspil.runtime.kafka_security import _handshake_problem, kafka_tls_problem


def test_an_unreachable_broker_is_no_tls_problem() -> None:
    context = ssl.create_default_context()
    assert asyncio.run(kafka_tls_problem(f"127.0.0.1:{free_port()}", context, timeout=5)) is None


def test_a_database_failure_that_is_no_tls_one_is_left_to_its_own_message() -> None:
    assert database_tls_problem(ConnectionRefusedError(111, "Connection refused"), "X_DATABASE_URL") is None
    assert database_tls_problem(ValueError("bad"), "X_DATABASE_URL") is None


def test_a_server_without_tls_is_named_with_the_variable_that_asks_for_it() -> None:
    rejected = ConnectionError('PostgreSQL server at "127.0.0.1:5432" rejected SSL upgrade')
    assert database_tls_problem(rejected, "SOCIAL_DATABASE_URL") == (
        "PostgreSQL TLS: the server does not offer TLS, which sslmode in SOCIAL_DATABASE_URL requires"
    )


def test_an_unreadable_root_certificate_is_named_with_where_it_was_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = FileNotFoundError(2, "No such file or directory")  # as asyncpg raises it: no name
    url = "postgresql://u:p@db.example:5432/x?sslmode=verify-full&sslrootcert=/nowhere/ca.pem"
    assert database_tls_problem(missing, "SOCIAL_DATABASE_URL", url) == (
        "PostgreSQL TLS: sslrootcert in SOCIAL_DATABASE_URL: cannot read /nowhere/ca.pem"
    )
    monkeypatch.setenv("PGSSLROOTCERT", "/nowhere/else.pem")
    assert database_tls_problem(missing, "SOCIAL_DATABASE_URL", url.split("&")[0]) == (
        "PostgreSQL TLS: PGSSLROOTCERT: cannot read /nowhere/else.pem"
    )
    monkeypatch.delenv("PGSSLROOTCERT")
    assert database_tls_problem(missing, "SOCIAL_DATABASE_URL", url.split("&")[0]) is None


def alert(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] alert")
    error.reason = reason
    return error


def test_an_alert_from_the_broker_or_a_plaintext_listener_is_definite_an_eof_is_not() -> None:
    refused = _handshake_problem(alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"), "b:9093", True)
    assert refused.definite
    assert "a client certificate it trusts may be required" in refused.message
    assert _handshake_problem(alert("TLSV1_ALERT_UNKNOWN_CA"), "b:9093", True).definite
    # Any alert the broker sent is its answer, and will be the next time too.
    assert _handshake_problem(alert("SSLV3_ALERT_HANDSHAKE_FAILURE"), "b:9093", True).definite
    assert _handshake_problem(alert("SSLV3_ALERT_HANDSHAKE_FAILURE"), "b:9093", False).definite
    assert _handshake_problem(alert("TLSV1_ALERT_PROTOCOL_VERSION"), "b:9093", True).definite
    # A plaintext listener where TLS was expected does not change by waiting.
    assert _handshake_problem(alert("WRONG_VERSION_NUMBER"), "b:9092", True).definite
    assert not _handshake_problem(alert("UNEXPECTED_EOF_WHILE_READING"), "b:9093", True).definite
