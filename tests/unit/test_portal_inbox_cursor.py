"""The inbox's next-page link carries where the page ended; an address edited by hand never
breaks the page, it starts at the first one."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from provider_gateway.domain.inbox import referral_cursor
from provider_gateway.portal.pages import _page_key


def test_the_next_page_starts_after_the_last_referral_shown() -> None:
    key = (datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC), uuid.uuid4())
    assert _page_key(referral_cursor(*key)) == key


_SOME_ID = uuid.UUID("5a75b0d4-57ea-4969-83c8-e76149782908")  # fixed: xdist's workers collect the same ids


@pytest.mark.parametrize(
    "cursor",
    [
        None,
        "",
        "not base64 at all!",
        base64.urlsafe_b64encode(b"2026-12-02T09:30:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(f"2026-12-02T09:30:00|{_SOME_ID}".encode()).decode(),  # no offset
        base64.urlsafe_b64encode(f"0001-01-01T00:00:00+05:00|{_SOME_ID}".encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_not_from_the_inbox_shows_the_first_page(cursor: str | None) -> None:
    assert _page_key(cursor) is None
