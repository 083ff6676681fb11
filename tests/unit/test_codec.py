from __future__ import annotations

import pytest

from samspil.runtime.codec import (
    EnvelopeError,
    decode_data,
    decode_envelope,
    encode,
    extension_attributes,
    header,
)
from schemas.cpr import contains_cpr
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from tests.support import absence_notice


def test_event_round_trips_through_cloudevents_binary_headers() -> None:
    envelope, notice = absence_notice()
    record = encode(envelope, notice)
    assert record.key == envelope.subject.encode()
    assert header(record.headers, "ce_specversion") == "1.0"
    assert header(record.headers, "content-type") == "application/json"
    assert decode_envelope(record.headers) == envelope
    assert decode_data(AbsenceNoticeSubmitted, record.value) == notice


def test_a_received_envelope_must_carry_its_own_id() -> None:
    envelope, notice = absence_notice()
    headers = [(k, v) for k, v in encode(envelope, notice).headers if k != "ce_id"]
    with pytest.raises(EnvelopeError, match="ce_id"):
        decode_envelope(headers)


def test_wrong_spec_version_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="specversion"):
        decode_envelope([("ce_specversion", b"0.3")])


def test_citizen_reference_cannot_be_a_cpr_number() -> None:
    envelope, _ = absence_notice()
    with pytest.raises(ValueError, match="subject"):
        Envelope.model_validate({**envelope.model_dump(), "subject": "010190-1234"})


def _with_headers(*extra: tuple[str, bytes]) -> tuple[Envelope, list[tuple[str, bytes]]]:
    envelope, notice = absence_notice()
    return envelope, [*encode(envelope, notice).headers, *extra]


def test_trace_context_extension_attributes_are_accepted_and_kept() -> None:
    traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    envelope, headers = _with_headers(
        ("ce_traceparent", traceparent), ("ce_tracestate", b"congo=t61rcWkgMzE")
    )
    assert decode_envelope(headers) == envelope
    assert extension_attributes(headers) == {
        "traceparent": traceparent.decode(),
        "tracestate": "congo=t61rcWkgMzE",
    }


def test_known_attributes_are_not_extensions() -> None:
    _, headers = _with_headers()
    assert extension_attributes(headers) == {}


@pytest.mark.parametrize(
    "name",
    ["ce_TraceParent", "ce_trace-parent", "ce_trace_parent", "ce_" + "a" * 21, "ce_"],
    ids=["upper-case", "hyphen", "underscore", "too-long", "empty"],
)
def test_an_attribute_name_cloudevents_does_not_allow_is_refused(name: str) -> None:
    _, headers = _with_headers((name, b"x"))
    with pytest.raises(EnvelopeError, match="not a CloudEvents attribute name"):
        decode_envelope(headers)
    assert extension_attributes(headers) == {}


@pytest.mark.parametrize("value", [b"010190-1234", b"note 0101901234 here"])
def test_an_unknown_attribute_holding_a_cpr_number_is_refused_without_echoing_it(value: bytes) -> None:
    _, headers = _with_headers(("ce_note", value))
    with pytest.raises(EnvelopeError, match="ce_note: must not contain a CPR number") as refused:
        decode_envelope(headers)
    assert "0101901234" not in str(refused.value) and "010190-1234" not in str(refused.value)


@pytest.mark.parametrize("name", ["ce_0101901234", "ce_x" + "0" * 3 + "010190-1234"])
def test_an_attribute_name_holding_a_cpr_number_is_refused_without_echoing_it(name: str) -> None:
    _, headers = _with_headers((name, b"x"))
    with pytest.raises(EnvelopeError) as refused:
        decode_envelope(headers)
    assert not contains_cpr(str(refused.value))


def test_a_known_attribute_is_still_validated_strictly_beside_extensions() -> None:
    _, headers = _with_headers(("ce_traceparent", b"00-abc"))
    headers = [(k, b"/samspil/0101901234" if k == "ce_source" else v) for k, v in headers]
    with pytest.raises(EnvelopeError, match="ce_source"):
        decode_envelope(headers)
