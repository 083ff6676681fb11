from __future__ import annotations

import logging
import ssl
import sys

import pytest

from samspil.runtime.logging import RepeatLimiter, mask_cpr
from schemas.envelope import no_cpr


def test_cpr_numbers_are_masked_in_log_lines_with_or_without_dash() -> None:
    line = mask_cpr(
        None, "info", {"event": "looked up 010190-1234", "note": "cpr 0101901234", "n": ["1111111111"]}
    )
    assert "010190-1234" not in line["event"] and "0101901234" not in line["note"]
    assert line["n"] == ["[cpr-masked]"]


def test_uuids_and_longer_numbers_are_left_alone() -> None:
    event_id = "c83f5afd-9a95-458a-a933-db1234567890"
    line = mask_cpr(None, "info", {"event_id": event_id, "offset": "123456789012"})
    assert line == {"event_id": event_id, "offset": "123456789012"}


@pytest.mark.parametrize(
    "text",
    [
        "010190-1234",
        "Borger 010190\u20131234 flyttet.",  # en dash, as word processors write it
        "010190\u00a01234",  # non-breaking space
        "010190/1234",
        "01/01/90-1234",
        "01.01.90-1234",
        "0101 90 1234",
        "a0101901234",
        "cpr0101901234",
    ],
)
def test_a_cpr_number_is_found_however_it_is_written(text: str) -> None:
    assert "[cpr-masked]" in mask_cpr(None, "info", {"event": text})["event"]
    with pytest.raises(ValueError, match="CPR"):
        no_cpr(text)


@pytest.mark.parametrize(
    "text",
    ["+4512345678", "+45 12 34 56 78", "2026-11-16", "123456789012", "c83f5afd-9a95-458a-a933-db1234567890"],
)
def test_phone_numbers_dates_and_identifiers_are_not_cpr_numbers(text: str) -> None:
    assert no_cpr(text) == text


def test_repeated_kafka_library_lines_pass_once_per_interval_saying_how_many_were_held() -> None:
    now = [0.0]
    limiter = RepeatLimiter(30.0, clock=lambda: now[0])

    def record(name: str, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)

    template = "Unable connect to node with id %s: %s"
    passed = []
    for step in range(200):  # twenty a second for ten seconds
        now[0] = step * 0.05
        passed.append(limiter.filter(record("aiokafka", template, 1, "refused")))
    assert passed.count(True) == 1
    # Another kind of line, and any other library's, is not held back by the first.
    assert limiter.filter(record("aiokafka.consumer.group_coordinator", "Heartbeat failed"))
    assert all(limiter.filter(record("uvicorn.error", "same line")) for _ in range(3))
    now[0] = 31.0
    summary = record("aiokafka", template, 1, "refused")
    assert limiter.filter(summary)
    assert summary.getMessage() == "Unable connect to node with id 1: refused [199 more like it in 31 s]"


def test_a_different_failure_from_a_kafka_library_is_not_held_back_behind_a_repeated_one() -> None:
    now = [0.0]
    limiter = RepeatLimiter(30.0, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"

    def record(level: int, *args: object) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", level, __file__, 1, template, args, None)

    assert limiter.filter(record(logging.ERROR, 1, ConnectionRefusedError("refused")))
    assert not limiter.filter(record(logging.ERROR, 1, ConnectionRefusedError("refused")))
    # Another error behind the same words, or the same words at another level: another kind.
    assert limiter.filter(record(logging.ERROR, 1, ssl.SSLCertVerificationError("verify failed")))
    assert limiter.filter(record(logging.CRITICAL, 1, ConnectionRefusedError("refused")))
    failed = record(logging.ERROR, 1, "x")
    try:
        raise TimeoutError
    except TimeoutError:
        failed.exc_info = sys.exc_info()
    assert limiter.filter(failed)


def test_the_limiter_forgets_what_it_saw_when_it_has_seen_too_many_kinds() -> None:
    limiter = RepeatLimiter(30.0, clock=lambda: 0.0)
    for n in range(5000):  # lines that carry their values in the template
        assert limiter.filter(
            logging.LogRecord("aiokafka", logging.WARNING, __file__, 1, f"node {n}", (), None)
        )
    assert len(limiter._seen) <= 1000
