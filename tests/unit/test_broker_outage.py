"""While the broker cannot be reached a service says so once per interval, with the count of
failed attempts, and once more when it answers again."""

from __future__ import annotations

from structlog.testing import capture_logs

from samspil.runtime.kafka import BrokerOutage


def test_an_outage_is_logged_once_per_interval_with_the_count_of_failed_attempts() -> None:
    now = [100.0]
    outage = BrokerOutage(interval=30.0, clock=lambda: now[0])
    with capture_logs() as logs:
        for step in range(130):  # two attempts a second for 65 s
            now[0] = 100.0 + step * 0.5
            outage.failed(ConnectionRefusedError("refused 127.0.0.1:19092"))
        now[0] = 170.0
        outage.succeeded()
        outage.succeeded()  # nothing more to say
    assert [(line["event"], line.get("failed_attempts")) for line in logs] == [
        ("broker unreachable, still trying", 1),
        ("broker unreachable, still trying", 61),
        ("broker unreachable, still trying", 121),
        ("broker reachable again", 130),
    ]
    # The error's type (what readiness shows too), and its text for whoever reads the log.
    assert {line.get("error") for line in logs[:3]} == {"ConnectionRefusedError"}
    assert {line.get("detail") for line in logs[:3]} == {"refused 127.0.0.1:19092"}
    assert not outage.ongoing


def test_a_cause_the_service_found_goes_into_each_outage_line_until_the_broker_answers() -> None:
    now = [0.0]
    outage = BrokerOutage(interval=30.0, clock=lambda: now[0])
    assert outage.due()
    with capture_logs() as logs:
        outage.cause = "Kafka TLS: ... a client certificate it trusts may be required"
        outage.failed(ConnectionError("Unable to bootstrap from [('b', 9093)]"))
        now[0] = 10.0
        assert not outage.due()
        now[0] = 30.0
        assert outage.due()
        outage.failed(ConnectionError("Unable to bootstrap from [('b', 9093)]"))
        outage.succeeded()
    assert [line.get("likely_cause") for line in logs] == [
        "Kafka TLS: ... a client certificate it trusts may be required",
        "Kafka TLS: ... a client certificate it trusts may be required",
        None,
    ]
    assert outage.cause is None
