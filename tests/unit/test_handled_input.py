"""When a moment counts as handled: once the group's committed offsets reach the end offsets the
topic had then, on every partition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from samspil.runtime.handled_input import HandledInput, Offsets

START = datetime(2027, 3, 9, 7, 0, tzinfo=UTC)


class Broker:
    """End and committed offsets as a test sets them; each question moves the clock a minute."""

    def __init__(self) -> None:
        self.ends: dict[int, int] = {0: 0, 1: 0}
        self.handled: dict[int, int] = {0: 0, 1: 0}
        self.now = START
        self.away = False

    async def offsets(self, topic: str) -> Offsets:
        if self.away:
            raise OSError("broker away")
        return dict(self.ends), dict(self.handled)

    def clock(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


async def test_a_group_that_keeps_up_has_handled_everything_up_to_now() -> None:
    broker = Broker()
    handled = HandledInput("commands", broker.offsets, broker.clock)
    broker.ends = broker.handled = {0: 5, 1: 3}
    assert await handled.until() == START + timedelta(minutes=1)


async def test_a_moment_counts_once_what_was_on_the_topic_then_is_handled() -> None:
    broker = Broker()
    handled = HandledInput("commands", broker.offsets, broker.clock)
    broker.ends = {0: 5, 1: 3}
    broker.handled = {0: 5, 1: 2}  # one record of partition 1 still waits
    assert await handled.until() is None
    broker.ends = {0: 9, 1: 3}  # more arrives meanwhile
    broker.handled = {0: 6, 1: 3}
    assert await handled.until() == START + timedelta(minutes=1)  # the first moment, not the second
    broker.handled = {0: 9, 1: 3}
    assert await handled.until() == START + timedelta(minutes=3)


async def test_a_broker_away_keeps_the_last_moment_known_and_one_that_lost_its_log_starts_again() -> None:
    broker = Broker()
    handled = HandledInput("commands", broker.offsets, broker.clock)
    broker.ends = broker.handled = {0: 5, 1: 3}
    known = await handled.until()
    broker.away = True
    assert await handled.until() == known
    broker.away = False
    broker.ends = {0: 8, 1: 3}
    broker.handled = {0: 6, 1: 3}
    assert await handled.until() == known
    # The broker lost its memory: the offsets noted before can never be reached again.
    broker.ends = broker.handled = {0: 1, 1: 0}
    assert await handled.until() == broker.now


async def test_nothing_is_known_before_a_consumer_is_watched() -> None:
    assert await HandledInput("commands").until() is None
