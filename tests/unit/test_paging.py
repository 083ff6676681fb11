"""The one page shape: cursors round-trip, anything else is a 422 naming query.cursor."""

from __future__ import annotations

import pytest

from samspil.runtime.http import Problem
from samspil.runtime.paging import make_cursor, page_of, read_cursor


def _key(raw: list[object]) -> tuple[str, int]:
    when, ident = raw
    if not isinstance(when, str) or not isinstance(ident, int):
        raise TypeError("not this list's key")
    return when, ident


def test_a_cursor_reads_back_as_the_key_it_was_made_from() -> None:
    cursor = make_cursor(["2026-11-30T09:00:00+00:00", 17])
    assert read_cursor(cursor, _key) == ("2026-11-30T09:00:00+00:00", 17)


@pytest.mark.parametrize("cursor", ["not-base64!", "e30=", make_cursor([1]), make_cursor(["a", "b"])])
def test_a_cursor_this_list_did_not_make_is_refused_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        read_cursor(cursor, _key)
    assert refused.value.status == 422
    assert refused.value.extra["errors"][0]["field"] == "query.cursor"


def test_a_page_has_a_next_cursor_only_when_a_row_beyond_it_was_fetched() -> None:
    rows = [("t", 1), ("t", 2), ("t", 3)]
    full = page_of(rows, 2, lambda row: row[1], lambda row: row)
    assert full.items == [1, 2]
    assert full.next_cursor is not None and read_cursor(full.next_cursor, _key) == ("t", 2)
    last = page_of(rows[:2], 2, lambda row: row[1], lambda row: row)
    assert last.items == [1, 2] and last.next_cursor is None
    assert page_of([], 2, lambda row: row, lambda row: [row]).next_cursor is None
