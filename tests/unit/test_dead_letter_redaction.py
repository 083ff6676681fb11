"""What the dead-letter redactor leaves of a record: every text holding a CPR number replaced by
a marker with its path and keyed hash, everything else as it was."""

from __future__ import annotations

import json

import pytest

from samspil.runtime.redaction import Redactor, redact_text
from schemas.envelope import cpr_spans

KEY = "a-dead-letter-key-of-enough-length-0123"


def test_a_record_without_a_cpr_number_is_kept_byte_for_byte() -> None:
    value = b'{ "note" : "Ringet 12 34 56 78 kl. 10.30; sag 2026-1234",  "n": 1.50 }'
    headers = [("ce_source", b"/kommune"), ("x-bin", b"\xff\xfe")]
    redacted = Redactor(KEY).redact(b"k1:ab", value, headers)
    assert (redacted.key, redacted.value, redacted.headers, redacted.paths) == (b"k1:ab", value, headers, ())


def test_every_string_number_and_member_name_holding_a_cpr_number_is_replaced_where_it_is() -> None:
    document = {
        "note": "CPR 010203-1234",
        "items": [{"text": "ok"}, {"text": "0102031234"}],
        "amount": 3112991234,
        "0102031234": "by name",
        "æøå": "Kort status, ingen tal",
    }
    redacted = Redactor(KEY).redact(None, json.dumps(document).encode(), [])
    assert redacted.paths == ("value.note", "value.items[1].text", "value.amount", "value.(name 3)")
    kept = json.loads(redacted.value)
    assert cpr_spans(redacted.value.decode()) == []
    assert kept["items"][0] == {"text": "ok"} and kept["æøå"] == "Kort status, ingen tal"
    assert kept["note"] == Redactor(KEY).marker("value.note", b"CPR 010203-1234")
    assert kept["note"].startswith("[redacted value.note hmac-sha256:")


def test_the_hash_is_keyed_and_names_the_same_text_the_same_way() -> None:
    one, other = Redactor(KEY), Redactor(KEY.replace("a", "b"))
    assert one.marker("value.note", b"010203-1234") == one.marker("value.note", b"010203-1234")
    assert one.marker("value.note", b"010203-1234") != other.marker("value.note", b"010203-1234")
    assert one.marker("value.note", b"010203-1234") != one.marker("value.note", b"010203-1235")


def test_headers_and_their_names_are_redacted_whole_and_text_values_by_span() -> None:
    redacted = Redactor(KEY).redact(
        b"010203-1234",
        b"\xffnot json 010203-1234 end",
        [("ce_source", b"/x/010203-1234"), ("010203-1234", b"v"), ("ce_type", b"t")],
    )
    assert redacted.paths == ("key", "header.ce_source", "header[1].name", "value")
    assert redacted.value.startswith(b"\xffnot json [redacted value hmac-sha256:")
    assert redacted.value.endswith(b"] end")
    everything = b" ".join(
        [redacted.key or b"", redacted.value, *(n.encode() + v for n, v in redacted.headers)]
    )
    assert cpr_spans(everything.decode("utf-8", "replace")) == []
    assert redacted.headers[2] == ("ce_type", b"t")


def test_an_error_text_is_masked() -> None:
    assert cpr_spans(redact_text("ValueError('note 010203-1234')")) == []


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Redactor("short")
