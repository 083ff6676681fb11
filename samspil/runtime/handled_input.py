"""Up to which moment a service has handled everything appended to one of its input topics.

A deadline that another party meets by sending a message (an objection on a command topic) may
be settled only once every message sent before it passed has been handled: the record may wait
unread behind others, or while the service is down. Each `HandledInput.until` notes the topic's
end offsets at that moment; the moment counts as handled once the service's consumer group has
committed up to those offsets on every partition (committed only after the effect is durable).
Settling by the handled moment instead of the clock delays a deadline while the consumer lags,
never settles one with a message sent in time still unread, and costs nothing while it keeps up.
Asked of the broker (end and committed offsets), so every replica sees all partitions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

import structlog

log = structlog.get_logger("samspil.handled_input")

Offsets = tuple[dict[int, int], dict[int, int]]


class _Runtime(Protocol):
    async def input_offsets(self, topic: str) -> Offsets: ...


# More moments than this waiting to be handled are thinned out: a moment dropped only delays.
_MAX_MARKS = 64


class HandledInput:
    def __init__(
        self,
        topic: str,
        offsets: Callable[[str], Awaitable[Offsets]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.topic = topic
        self._offsets = offsets
        self._clock = clock
        self._marks: list[tuple[datetime, dict[int, int]]] = []
        self._handled_until: datetime | None = None

    def watch(self, runtime: _Runtime) -> None:
        """Ask ``runtime``'s consumer (bound after the runtime is built)."""
        self._offsets = runtime.input_offsets

    async def until(self) -> datetime | None:
        """The latest moment before which every record of the topic has been handled; None while
        none is known yet (the broker away, the consumer not started)."""
        if self._offsets is None:
            return None
        now = self._clock()
        try:
            ends, handled = await self._offsets(self.topic)
        except Exception as error:
            log.info("handled input unknown", topic=self.topic, error=type(error).__name__)
            return self._handled_until
        self._marks.append((now, ends))
        # A moment whose offsets the log no longer reaches (a broker that lost its memory) can
        # never be confirmed: a later one stands in for it.
        self._marks = [
            (moment, noted)
            for moment, noted in self._marks
            if all(ends.get(partition, 0) >= end for partition, end in noted.items())
        ]
        while self._marks and all(
            handled.get(partition, 0) >= end for partition, end in self._marks[0][1].items()
        ):
            self._handled_until = self._marks.pop(0)[0]
        if len(self._marks) > _MAX_MARKS:
            del self._marks[1::2]
        return self._handled_until
