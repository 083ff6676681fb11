"""The import's header check names no cell of a citizen's row."""

from __future__ import annotations

import pytest

from employment.entrypoints.csv_format import BadFile, Columns
from schemas.cpr import contains_cpr


def test_a_file_without_its_header_row_is_refused_without_quoting_the_cells_it_holds_instead() -> None:
    # A CPR number over two cells: each alone is no CPR number, joined they are one.
    with pytest.raises(BadFile) as refused:
        Columns.of(["010203", "1234", "kontanthjaelp"])
    message = str(refused.value)
    assert "column 1, 2, 3" in message and "header row missing" in message
    assert not contains_cpr(message) and "010203" not in message and "1234" not in message


def test_a_header_with_one_unknown_column_says_which() -> None:
    with pytest.raises(BadFile, match=r"column 3\b"):
        Columns.of(["cpr", "target_group", "shoe_size"])
