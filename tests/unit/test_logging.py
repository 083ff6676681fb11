from __future__ import annotations

from samspil.runtime.logging import mask_cpr


def test_cpr_numbers_are_masked_in_log_lines_with_or_without_dash() -> None:
    line = mask_cpr(
        None, "info", {"event": "looked up 010190-1234", "note": "cpr 0101901234", "n": [f"{'2' * 10}"]}
    )
    assert "010190-1234" not in line["event"] and "0101901234" not in line["note"]
    assert line["n"] == ["[cpr-masked]"]


def test_uuids_and_longer_numbers_are_left_alone() -> None:
    event_id = "c83f5afd-9a95-458a-a933-db1234567890"
    line = mask_cpr(None, "info", {"event_id": event_id, "offset": "123456789012"})
    assert line == {"event_id": event_id, "offset": "123456789012"}
