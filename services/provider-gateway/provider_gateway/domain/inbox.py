"""The provider's referral inbox: its tabs and its search by name; plain Python, no I/O.

A referral is new while it is requested, active once accepted and while in progress or on hold,
and closed once it can take no step onward (rejected, cancelled, completed, failed). The gateway
keeps the tab beside the status (``referral_view.inbox_tab``, migration 016) so each tab is read
through an index; `tab_of` says the same in Python, and a test holds the two together.

A search matches a referral when each word typed begins a word of the citizen's display name:
"jens" finds "Testborger Jensen", "t jens" too, "jensen x" not.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum

from schemas.referrals import CLOSED_STATUSES, ReferralStatus


class InboxTab(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    CLOSED = "closed"


def tab_of(status: ReferralStatus) -> InboxTab:
    if status is ReferralStatus.REQUESTED:
        return InboxTab.NEW
    return InboxTab.CLOSED if status in CLOSED_STATUSES else InboxTab.ACTIVE


# Letters and digits only: whatever else is typed separates words and cannot reach the query
# syntax. A few words are plenty for a name.
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 6


def name_query(typed: str) -> str | None:
    """The text-search query (PostgreSQL tsquery) for what was typed: each word as a prefix,
    all of them required; None when nothing searchable was typed."""
    words = _WORD.findall(typed)[:MAX_WORDS]
    if not words:
        return None
    return " & ".join(f"{word[:100]}:*" for word in words)


ReferralKey = tuple[datetime, uuid.UUID]


def referral_cursor(updated_at: datetime, referral_id: uuid.UUID) -> str:
    """The cursor after a referral in a list by change (the API's ``GET /v1/referrals`` and the
    portal's inbox read the same)."""
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{referral_id}".encode()).decode()


def referral_after(cursor: str) -> ReferralKey:
    """The referral a `referral_cursor` names; ValueError for anything else (also a time without
    an offset, or one outside the years 2 to 9998 that the database holds)."""
    try:
        when, referral_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        after = datetime.fromisoformat(when)
        if after.tzinfo is None or not 2 <= after.astimezone(UTC).year <= 9998:
            raise ValueError("not a cursor of a referral list")
        return after, uuid.UUID(referral_id)
    except OverflowError:
        raise ValueError("not a cursor of a referral list") from None
