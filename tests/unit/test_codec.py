from __future__ import annotations

import pytest

from samspil.runtime.codec import EnvelopeError, decode_data, decode_envelope, encode, header
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
