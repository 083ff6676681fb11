"""The one CPR detector: every spelling a person might type is found; real prose is left alone."""

from __future__ import annotations

import json
import random
import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samspil.runtime.logging import mask_cpr
from samspil.runtime.pseudonym import citizen_ref_for, normalise_cpr
from schemas.cpr import birth_date, contains_cpr, cpr_fields_in_json, json_text_may_hold_cpr, mask_cpr_numbers

# Every script whose ten decimal digits Unicode lists, found by name: ASCII, full-width,
# Arabic-Indic, extended Arabic-Indic, Devanagari, Bengali, Thai, mathematical bold...
_ZEROS = sorted(
    {
        chr(c)
        for c in range(0x110000)
        if unicodedata.category(chr(c)) == "Nd" and unicodedata.decimal(chr(c)) == 0
    }
)
DIGIT_SCRIPTS = [[chr(ord(zero) + n) for n in range(10)] for zero in _ZEROS]
SPACES = [" ", "\u00a0", "\u202f", "\u2009", "\u3000", "\t", "\n", "\r\n"]
MARKS = [
    "-",
    "\u2010",
    "\u2011",
    "\u2012",
    "\u2013",
    "\u2014",
    "\u2212",
    "\ufe63",
    "\uff0d",  # dashes
    ".",
    "/",
    "\uff0e",
    "\uff0f",
    "_",
    ",",
    "\u00b7",  # dots, slashes and the like
]
# Characters nobody sees: zero-width space and joiner, byte-order mark, word joiner, soft hyphen.
UNSEEN = ["\u200b", "\u200d", "\ufeff", "\u2060", "\u00ad"]


@st.composite
def cpr_numbers(draw: st.DrawFn) -> str:
    """Ten ASCII digits whose first six are a real birth date (century from the 7th digit)."""
    born = draw(st.dates(min_value=date(1858, 1, 1), max_value=date(2036, 12, 31)))
    year_2 = born.year % 100
    century = born.year // 100 * 100
    sevenths = [
        d
        for d in range(10)
        if (d <= 3 and century == 1900)
        or (d in (4, 9) and century == (2000 if year_2 <= 36 else 1900))
        or (d in (5, 6, 7, 8) and century == (2000 if year_2 <= 57 else 1800))
    ]
    seventh = draw(st.sampled_from(sevenths))  # every year in range has at least one
    rest = draw(st.integers(0, 999))
    return f"{born:%d%m}{year_2:02d}{seventh}{rest:03d}"


@st.composite
def spellings(draw: st.DrawFn, digits: str) -> str:
    """``digits`` as someone might write it: any script per digit, any short run of separators
    between day, month, year and sequence."""
    groups = [digits[0:2], digits[2:4], digits[4:6], digits[6:10]]
    script = draw(st.sampled_from(DIGIT_SCRIPTS))
    mixed = draw(st.booleans())

    def unseen() -> str:
        return draw(st.sampled_from(["", "", "", "", "", *UNSEEN, "\u0301"]))

    def write(group: str) -> str:
        return "".join(
            (draw(st.sampled_from(DIGIT_SCRIPTS)) if mixed else script)[int(digit)] + unseen()
            for digit in group
        )

    def gap() -> str:
        spaces = st.lists(st.sampled_from(SPACES), max_size=3).map("".join)
        marks = draw(st.lists(st.sampled_from(MARKS), max_size=2))
        return draw(spaces) + "".join(marks) + (draw(spaces) if marks else "")

    gaps = [gap() + unseen() for _ in range(3)]
    return (
        write(groups[0])
        + gaps[0]
        + write(groups[1])
        + gaps[1]
        + write(groups[2])
        + gaps[2]
        + write(groups[3])
    )


prose = st.text(
    alphabet=st.characters(blacklist_categories=("Nd", "No", "Cs"), blacklist_characters="\x00"), max_size=40
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), before=prose, after=prose)
def test_a_cpr_number_in_any_spelling_within_any_text_is_found(
    data: st.DataObject, before: str, after: str
) -> None:
    digits = data.draw(cpr_numbers())
    written = data.draw(spellings(digits))
    # Text around it must not run into its digits: a letter or a space ends a number.
    text = f"{before} {written} {after}"
    assert contains_cpr(text)
    masked = mask_cpr_numbers(text)
    assert "[cpr-masked]" in masked and not contains_cpr(masked)
    assert written not in masked


@settings(max_examples=300)
@given(data=st.data())
def test_enrolment_reads_any_spelling_as_the_same_person(data: st.DataObject) -> None:
    digits = data.draw(cpr_numbers())
    written = data.draw(spellings(digits))
    assert normalise_cpr(written) == digits
    assert citizen_ref_for(written, "k" * 32, "k1") == citizen_ref_for(digits, "k" * 32, "k1")


@pytest.mark.parametrize(
    "written",
    [
        "311299-4005",
        "３１１２９９-４００５",  # noqa: RUF001 - full-width, the point of the test
        "٣١١٢٩٩-٤٠٠٥",  # Arabic-Indic
        "311299 - 4005",
        "311299 \u2013 4005",
        "31.12.99-4005",
        "3112994005",
        "311299\u200b4005",  # a zero-width space
        "311299\u00ad4005",  # a soft hyphen, as word processors paste it
        "31 12 99 40 05",
        "311299 -\r\n    4005",
        "311299_4005",
    ],
)
def test_the_issue_examples_are_one_person(written: str) -> None:
    assert normalise_cpr(written) == "3112994005"


@pytest.mark.parametrize("written", ["３１０２９９-４００５", "311299-40050", "31129-94005", "abcdefghij"])  # noqa: RUF001
def test_enrolment_refuses_what_is_no_cpr_number_with_a_value_error(written: str) -> None:
    with pytest.raises(ValueError, match=r"CPR number|birth date"):
        normalise_cpr(written)


def test_a_cpr_number_in_a_json_document_is_named_by_its_path() -> None:
    document = {"note": "ok", "items": [{"text": "borger 010203 - 1234"}], "010203\u20131234": 1}
    assert cpr_fields_in_json(document, "body") == ["body.010203\u20131234", "body.items.0.text"]
    assert cpr_fields_in_json({"cpr": "0102031234"}, "body", frozenset({"body.cpr"})) == []
    # A number is typed and bounded by its model: a large version number is no text to read.
    assert cpr_fields_in_json({"expected_version": 1102031234}, "body") == []


# Strings a consumed payload may hold: prose, digits and separators (dates, times, counts,
# identifiers), or a CPR number in any spelling within prose.
_payload_texts = st.one_of(
    prose,
    st.text(alphabet="0123456789 -./:_,abcdef", max_size=30),
    st.uuids().map(str),
    st.builds(lambda before, written, after: f"{before} {written} {after}", prose, st.just(""), prose),
)


@st.composite
def _payload_strings(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(_payload_texts)
    written = draw(spellings(draw(cpr_numbers())))
    return draw(st.sampled_from(["{}", "borger {}", "{} ringede", "x{}"])).format(written)


_documents = st.recursive(
    st.one_of(_payload_strings(), st.integers(), st.booleans(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_payload_strings(), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(document=_documents, ascii_only=st.booleans())
def test_a_json_text_said_to_hold_no_cpr_number_has_none_in_any_of_its_strings(
    document: object, ascii_only: bool
) -> None:
    # The consumer scans a payload's whole text once, and its strings one by one only when that
    # text may hold a number: it must never say "none" of a document whose strings hold one.
    text = json.dumps(document, ensure_ascii=ascii_only)
    if cpr_fields_in_json(document, "data"):
        assert json_text_may_hold_cpr(text)


def test_a_json_text_with_no_cpr_number_is_said_to_hold_none() -> None:
    notice = {
        "submission_id": "5f0e6a57-3c1b-4a43-9f0a-1d0c2f2f7a10",
        "absent_from": "2026-11-16",
        "contact_attempts": [{"on": "2026-11-17", "channel": "phone"}],
        "comment": "Ikke set siden mandag kl. 10.15; tlf. 12 34 56 78.",
        "expected_version": 3,
    }
    assert not json_text_may_hold_cpr(json.dumps(notice, ensure_ascii=False))
    # A number outside any string is read too (the strings are then read one by one, and a
    # number is no text: cpr_fields_in_json finds none).
    assert json_text_may_hold_cpr(json.dumps({**notice, "expected_version": 1102031234}))
    # An escape may stand for a digit or a space: the strings are then read one by one.
    assert json_text_may_hold_cpr('{"comment": "010203\\n1234"}')


def test_the_log_processor_masks_spaced_and_full_width_spellings() -> None:
    line = mask_cpr(None, "info", {"event": "borger 010203 - 1234", "n": ["０１０２０３１２３４"]})  # noqa: RUF001
    assert line == {"event": "borger [cpr-masked]", "n": ["[cpr-masked]"]}
    other = mask_cpr(None, "info", {"count": 1102031234, "ok": 3, "by": {"010203-1234": b"0102031234"}})
    assert other == {"count": "[cpr-masked]", "ok": 3, "by": {"[cpr-masked]": "[cpr-masked]"}}


# -- false positives ------------------------------------------------------------------------------


def _real_prose(rng: random.Random) -> list[str]:
    """Texts caseworkers and providers write that hold numbers but no CPR number."""
    texts = []
    day = date(2020, 1, 1)
    for _ in range(2000):
        day += timedelta(days=rng.randint(1, 3))
        hour, minute = rng.randint(7, 18), rng.choice((0, 15, 30, 45))
        phone = f"{rng.randint(20, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
        amount = f"{rng.randint(1, 999)}.{rng.randint(0, 999):03d},{rng.randint(0, 99):02d}"
        case = f"{day.year}-{rng.randint(0, 99999):05d}"
        texts += [
            f"Mødet den {day:%d-%m-%Y} kl. {hour:02d}.{minute:02d} blev aflyst.",
            f"Fraværende fra {day:%d.%m.%Y} til {day + timedelta(days=14):%d.%m.%Y}.",
            f"Fra {day.isoformat()} til {(day + timedelta(days=30)).isoformat()}",
            f"Ring på {phone} eller +45 {phone}, evt. 0045{phone.replace(' ', '')}.",
            f"Udbetalt kr. {amount} den {day:%d/%m/%y}",
            f"Sagsnr. {case}, journalnr. {rng.randint(10**6, 10**7 - 1)}",
            f"Event c83f5afd-9a95-458a-a933-{rng.randint(10**11, 10**12 - 1)}",
            f"Ref k1:{rng.getrandbits(256):064x}",
            f"{rng.randint(1, 40)} timer om ugen, {rng.randint(1, 5)} dage, fra uge {rng.randint(1, 52)}",
        ]
    return texts


def test_numbers_in_real_prose_are_not_taken_for_cpr_numbers() -> None:
    texts = _real_prose(random.Random(20261201))
    flagged = [text for text in texts if contains_cpr(text)]
    # 18,000 texts with dates, times, phone numbers, amounts, case and journal numbers:
    # none is flagged (the README states this figure).
    assert len(texts) == 18_000
    assert flagged == []


@settings(max_examples=2000)
@given(moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_timestamps_as_services_write_them_are_never_taken_for_cpr_numbers(moment: datetime) -> None:
    for text in (
        moment.isoformat(),
        moment.replace(tzinfo=UTC).isoformat(),
        moment.isoformat() + "Z",
        f"{moment:%d-%m-%Y %H:%M:%S.%f}",
        f"{moment:%d.%m.%Y kl. %H.%M}",
        str(int(moment.replace(tzinfo=UTC).timestamp() * 1000)),
    ):
        assert not contains_cpr(text), text


def test_ten_digit_runs_are_flagged_only_when_they_start_with_a_real_date() -> None:
    rng = random.Random(7)
    runs = [f"{rng.randint(0, 10**10 - 1):010d}" for _ in range(20_000)]
    flagged = sum(contains_cpr(run) for run in runs)
    real_dates = sum(birth_date(run) is not None for run in runs)
    # A ten-digit number that starts with a real date cannot be told from a CPR number; any other
    # is left alone.
    assert flagged == real_dates
    assert 0 < flagged < len(runs) / 2
