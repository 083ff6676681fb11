"""The inbox's tabs and search words, as the domain states them."""

from __future__ import annotations

import pytest

from provider_gateway.domain.inbox import MAX_WORDS, InboxTab, name_query, tab_of
from schemas.referrals import CLOSED_STATUSES, ReferralStatus


def test_a_referral_is_new_while_requested_closed_once_it_can_go_no_further_and_active_between() -> None:
    assert {status: tab_of(status) for status in ReferralStatus} == {
        ReferralStatus.REQUESTED: InboxTab.NEW,
        ReferralStatus.ACCEPTED: InboxTab.ACTIVE,
        ReferralStatus.IN_PROGRESS: InboxTab.ACTIVE,
        ReferralStatus.ON_HOLD: InboxTab.ACTIVE,
        **dict.fromkeys(CLOSED_STATUSES, InboxTab.CLOSED),
    }


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("Jensen", "Jensen:*"),
        ("  anna   hansen ", "anna:* & hansen:*"),
        ("Ørum-Hansen", "Ørum:* & Hansen:*"),
        ("jens' | !x:*", "jens:* & x:*"),
        ("a_b", "a:* & b:*"),
        ("", None),
        ("&|!():*'", None),
    ],
)
def test_each_word_typed_is_a_prefix_and_nothing_else_reaches_the_query(
    typed: str, query: str | None
) -> None:
    assert name_query(typed) == query


def test_only_the_first_few_words_count() -> None:
    assert name_query(" ".join(["x"] * 50)) == " & ".join(["x:*"] * MAX_WORDS)
