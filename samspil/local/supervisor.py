"""Keeping the local stack's services running: a service process that dies is started again
after a pause that doubles with each quick death (1 s, 2 s, 4 s ... at most 30 s) and goes back
to the first once the service has run healthily for a while (60 s), so a service that crashes at
start-up does not spin, and one that crashed once a day restarts at once. Each death, restart
and return to readiness is reported in one line. The supervisor does nothing on its own: the
caller (``samspil up``'s loop, or a test) calls :meth:`Supervisor.supervise_once` as often as it
likes, and stops calling it before it stops the stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 60.0

    def next_delay(self, previous: float | None, ran_for: float) -> float:
        """The pause before the next start of a service that died after running ``ran_for``
        seconds; ``previous`` is the pause before the start that just died (None: the first)."""
        if previous is None or ran_for >= self.healthy_after:
            return self.first_delay
        return min(previous * 2, self.max_delay)


class SupervisedStack(Protocol):
    def service_names(self) -> list[str]: ...

    def exit_code(self, name: str) -> int | None: ...

    def start_service(self, name: str) -> None: ...

    def is_ready(self, name: str) -> bool: ...


@dataclass
class _Watch:
    started_at: float
    delay: float | None = None  # the pause before the current start; None: never restarted
    restart_at: float | None = None  # set while the service is dead and waiting for its restart
    restarts: int = 0
    awaiting_ready: bool = False


@dataclass
class Supervisor:
    stack: SupervisedStack
    report: Callable[[str], None]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    _watches: dict[str, _Watch] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        now = self.clock()
        self._watches = {name: _Watch(started_at=now) for name in self.stack.service_names()}

    def restarts(self, name: str) -> int:
        return self._watches[name].restarts

    def supervise_once(self) -> None:
        """Notice deaths, start what is due, and report services that are ready again."""
        now = self.clock()
        for name, watch in self._watches.items():
            if watch.restart_at is None:
                code = self.stack.exit_code(name)
                if code is not None:
                    watch.delay = self.policy.next_delay(watch.delay, now - watch.started_at)
                    watch.restart_at = now + watch.delay
                    watch.awaiting_ready = False
                    self.report(f"{name} exited with code {code}; restarting in {watch.delay:g} s")
                elif watch.awaiting_ready and self.stack.is_ready(name):
                    watch.awaiting_ready = False
                    self.report(f"{name} is ready again (restart {watch.restarts})")
            elif now >= watch.restart_at:
                try:
                    self.stack.start_service(name)
                except (OSError, RuntimeError) as error:
                    watch.delay = self.policy.next_delay(watch.delay, 0.0)
                    watch.restart_at = self.clock() + watch.delay
                    self.report(f"{name} could not be started: {error}; trying again in {watch.delay:g} s")
                    continue
                watch.restart_at, watch.started_at = None, self.clock()
                watch.restarts += 1
                watch.awaiting_ready = True
                self.report(f"{name} restarted (restart {watch.restarts})")
