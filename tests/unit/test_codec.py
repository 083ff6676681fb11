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


def _note(text: str) -> bytes:
    return ('{"note": "' + text + '"}').encode()


_CPR_SPELLINGS = {
    "plain": b'{"note": "borger 0101701234"}',
    "json escapes for digits": b'{"note": "\\u00301017012\\u00334"}',
    "an escaped surrogate pair (mathematical digit)": b'{"note": "\\ud835\\udfce101701234"}',
    "full-width digits and dash": _note(
        "".join(chr(0xFF10 + int(d)) for d in "010170") + "\uff0d\uff11\uff12\uff13\uff14"
    ),
    "Arabic-Indic digits": _note("".join(chr(0x0660 + int(d)) for d in "0101701234")),
    "zero-width and combining marks between digits": '{"note": "01\u200b0170\u00ad12\u030134"}'.encode(),
    "in a member name": b'{"0101701234": "x"}',
    "after a UTF-8 byte order mark": '\ufeff{"note": "0101701234"}'.encode(),
    "UTF-16 with a byte order mark": '{"note": "0101701234"}'.encode("utf-16"),
    "UTF-16 without one": '{"note": "0101701234"}'.encode("utf-16-le"),
    "UTF-32": '{"note": "0101701234"}'.encode("utf-32"),
    "at the end of a long text": ('{"note": "' + "x" * 200_000 + ' 01-01-70-1234"}').encode(),
}


@pytest.mark.parametrize("payload", _CPR_SPELLINGS.values(), ids=_CPR_SPELLINGS.keys())
def test_a_cpr_number_in_any_spelling_of_a_payload_is_refused_before_the_model_reads_it(
    payload: bytes,
) -> None:
    # The consumer scans the payload's whole text once and reads its strings one by one only
    # when that text may hold a number (codec.decode_data): no spelling may pass that scan.
    with pytest.raises(ValueError, match=r"data\.[^ ]*: must not contain a CPR number"):
        decode_data(AbsenceNoticeSubmitted, payload)
