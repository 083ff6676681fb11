"""The one CPR-number detector, used at every boundary (HTTP bodies, paths and headers, bus
commands and their attributes, dead letters, log lines).

A CPR number is ten digits, ``DDMMYY-SSSS``, whose first six are a real birth date. People write
it in many ways, so the text is first read as a person would read it: each character is
Unicode-normalised (NFKC), every Unicode decimal digit counts as its ASCII digit (full-width
U+FF13, Arabic-Indic U+0663, Devanagari U+0969...), every kind of space is a space and every kind of
dash is a dash; zero-width and format characters and combining marks are dropped. Between the
day, month, year and sequence groups a run of spaces (line breaks too) with at most two dashes,
dots, slashes, underscores or commas may stand (not colons:
``15:18:03.527815`` is a time), and the sequence may be written as two
pairs. The date is checked with the century the 7th digit gives (CPR-kontoret's table), so
``31-02-99-4005`` is no CPR number.

What the detector leaves alone: UUIDs and 64-digit hex strings (event ids and citizen references
may hold ten digits in a row), and any run of digits longer than ten.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Any

# Between two groups: a run of spaces (line breaks and indentation too), at most one or two
# separator characters, and spaces again: "010203 - 1234", "010203 -\n    1234", "01.02.03".
# Written so that each text has one way to match (no ambiguity for the regex engine to explore).
MAX_SPACES = 8
_SEPARATORS = r"\-./_,"
_GAP = rf"(?: {{0,{MAX_SPACES}}}(?:[{_SEPARATORS}]{{1,2}} {{0,{MAX_SPACES}}})?)"
# The sequence number may be written as two pairs: "01 02 03 12 34".
_PAIR = "([0-9]{2})"
# The sequence as four digits, or as two pairs after a visible gap ("01 02 03 12 34"; never
# "01-01-2000 00:00", a date and a time); and never a number followed by ":" and a digit (a time).
_MARKS_THEN_SPACES = rf"[{_SEPARATORS}]{{1,2}} {{0,{MAX_SPACES}}}"
_VISIBLE_GAP = rf"(?: {{1,{MAX_SPACES}}}(?:{_MARKS_THEN_SPACES})?|{_MARKS_THEN_SPACES})"
_SEQUENCE = rf"(?:{_GAP}{_PAIR}{_PAIR}|{_VISIBLE_GAP}{_PAIR}[ \-.]{_PAIR})"
_CPR = re.compile(rf"(?<![0-9]){_PAIR}{_GAP}{_PAIR}{_GAP}{_PAIR}{_SEQUENCE}(?![0-9]|:[0-9])")
_IDENTIFIERS = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9a-fA-F]{64}"
)
_ASCII_SPACES = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\x0b": " ", "\x0c": " "})


def century(year_2: int, seventh_digit: int) -> int:
    """The century of the birth year, from the 7th digit (CPR-kontoret's table)."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if year_2 <= 36 else 1900
    return 2000 if year_2 <= 57 else 1800


def birth_date(digits: str) -> date | None:
    """The birth date of ten ASCII digits read as a CPR number, or None if it is no real date."""
    try:
        year_2 = int(digits[4:6])
        return date(century(year_2, int(digits[6])) + year_2, int(digits[2:4]), int(digits[0:2]))
    except ValueError:
        return None


def _read_char(char: str) -> str:
    """One character as a person reads it: NFKC, then digits, spaces and dashes made plain."""
    text = unicodedata.normalize("NFKC", char) if not char.isascii() else char
    out = []
    for c in text:
        category = unicodedata.category(c)
        if category in ("Cf", "Mn", "Me"):
            continue  # zero-width spaces and joiners, soft hyphens, combining marks: unseen
        if c.isascii():
            out.append(" " if c.isspace() else c)
        elif (digit := unicodedata.decimal(c, None)) is not None:
            out.append(str(digit))
        elif c.isspace() or category == "Zs":
            out.append(" ")
        elif category == "Pd" or c in "\u2212\u2043\ufe63\uff0d":
            out.append("-")
        elif c in "\u00b7\u2022\u2027\u2219\u22c5":  # middle dots and bullets
            out.append(".")
        elif c in "\u2044\u2215\uff0f":  # fraction and division slashes
            out.append("/")
        else:
            out.append(c)
    return "".join(out)


def read_as_plain(value: str) -> tuple[str, list[int]]:
    """The text as a person reads it (see the module docstring), and for each of its characters
    the index of the original character it came from."""
    if value.isascii():
        return value.translate(_ASCII_SPACES), list(range(len(value)))
    plain: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(value):
        read = _read_char(char)
        plain.append(read)
        origin.extend([index] * len(read))
    return "".join(plain), origin


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _may_hold_one(value: str) -> bool:
    # Cheap rejection: fewer than ten digit-like characters cannot make a CPR number. The ASCII
    # digits are counted in C, and only the non-ASCII characters one by one (a loop over every
    # character cost more than the rest of validating a whole job plan).
    if len(value) < 10:
        return False
    digits = sum(map(value.count, "0123456789"))
    if digits >= 10 or value.isascii():
        return digits >= 10
    # Every character str.isdigit takes, str.isnumeric takes too.
    return digits + sum(map(str.isnumeric, _NON_ASCII.findall(value))) >= 10


def cpr_spans(value: str) -> list[tuple[int, int]]:
    """Where CPR numbers stand in ``value``: (start, end) indices of the original text."""
    if not _may_hold_one(value):
        return []
    plain, origin = read_as_plain(value)
    # Identifiers are blanked out (same length, so indices hold): linear in the text's length.
    plain = _IDENTIFIERS.sub(lambda match: "x" * len(match.group()), plain)
    spans = []
    for match in _CPR.finditer(plain):
        if birth_date(_digits(match)) is None:
            continue
        spans.append((origin[match.start()], origin[match.end() - 1] + 1))
    return spans


def _digits(match: re.Match[str]) -> str:
    return "".join(group for group in match.groups() if group)


def contains_cpr(value: str) -> bool:
    return bool(cpr_spans(value))


def mask_cpr_numbers(value: str, mask: str = "[cpr-masked]") -> str:
    """The text with every CPR number replaced by ``mask``."""
    for start, end in reversed(cpr_spans(value)):
        value = value[:start] + mask + value[end:]
    return value


def no_cpr(value: str) -> str:
    """Refuse a text that holds a CPR number: none may travel on the bus or be stored."""
    if cpr_spans(value):
        raise ValueError("must not contain a CPR number")
    return value


def ascii_digits(value: str) -> str:
    """``value`` NFKC-normalised with every Unicode decimal digit written as its ASCII digit,
    every dash as '-' and every space as ' ' (for reading a CPR number someone typed)."""
    return read_as_plain(value)[0]


def read_cpr(value: str) -> str | None:
    """Ten ASCII digits if the whole of ``value`` is one CPR number as the detector reads it
    (any digit script, separators as above), else None. The birth date is not checked here."""
    match = _CPR.fullmatch(read_as_plain(value)[0].strip())
    return _digits(match) if match else None


def _strings(document: Any, prefix: str) -> Iterator[tuple[str, str]]:
    """Every string in a decoded JSON document (member names too), with the path that leads to
    it. Iterative, so no nesting depth can exhaust the stack. Numbers are not read: a number
    field is typed and bounded by its model, and a version or a count may well run ten digits
    long and start like a date."""
    pending: list[tuple[str, Any]] = [(prefix, document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield f"{path}.{key}", str(key)
                pending.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}", item) for index, item in enumerate(value))


def cpr_fields_in_json(document: Any, prefix: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The paths (``prefix.field.0.name``) of the strings in a decoded JSON document that hold a
    CPR number, ``allowed`` paths excepted."""
    return sorted(
        {path for path, text in _strings(document, prefix) if path not in allowed and contains_cpr(text)}
    )


def json_text_may_hold_cpr(text: str) -> bool:
    """False only when no string of this JSON text (a member name or a value) can hold a CPR
    number: one scan of the whole text in place of one per string, for the common case of a
    document with none. The strings of JSON are delimited by quotes, which the detector never
    reads across, so a number in a string is found in the whole text as in the string alone; a
    text with an escape (a backslash: ``\\n`` or ``\\u0033`` stands for a space or a digit) or
    a NUL (UTF-16 or UTF-32 read as UTF-8) says True, as does one with a number outside any
    string (a count ten digits long): :func:`cpr_fields_in_json` then decides."""
    return "\\" in text or "\x00" in text or bool(cpr_spans(text))


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def unescaped(text: str) -> str:
    """JSON's \\uXXXX escapes written out, so a document too broken to parse cannot hide a
    number's digits in them."""
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
