"""The local runner restarts a dying service after a pause that doubles while it keeps dying
quickly, is capped, and starts over once the service has run healthily for a while."""

from __future__ import annotations

from samspil.local.supervisor import RestartPolicy, Supervisor

POLICY = RestartPolicy(first_delay=1.0, max_delay=30.0, healthy_after=60.0)


def test_the_first_restart_waits_the_first_delay() -> None:
    assert POLICY.next_delay(None, ran_for=0.5) == 1.0


def test_a_service_that_keeps_dying_quickly_waits_twice_as_long_each_time_up_to_the_cap() -> None:
    delays: list[float] = []
    previous = None
    for _ in range(7):
        previous = POLICY.next_delay(previous, ran_for=2.0)
        delays.append(previous)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_service_that_ran_healthily_before_dying_restarts_after_the_first_delay_again() -> None:
    assert POLICY.next_delay(30.0, ran_for=60.0) == 1.0
    assert POLICY.next_delay(30.0, ran_for=59.0) == 30.0


class FlakyStack:
    """One service, dead, whose first start fails the way a broker on a taken port does."""

    def __init__(self) -> None:
        self.starts = 0
        self.code: int | None = -9

    def service_names(self) -> list[str]:
        return ["broker"]

    def exit_code(self, name: str) -> int | None:
        return self.code

    def start_service(self, name: str) -> None:
        self.starts += 1
        if self.starts == 1:
            raise RuntimeError("port 19092 is already in use")
        self.code = None

    def is_ready(self, name: str) -> bool:
        return True


def test_a_restart_that_cannot_start_is_reported_and_tried_again_later() -> None:
    now = [0.0]
    stack = FlakyStack()
    reported: list[str] = []
    supervisor = Supervisor(stack, report=reported.append, policy=POLICY, clock=lambda: now[0])
    for moment in (0.0, 1.0, 2.0, 3.0, 3.5):
        now[0] = moment
        supervisor.supervise_once()
    assert reported == [
        "broker exited with code -9; restarting in 1 s",
        "broker could not be started: port 19092 is already in use; trying again in 2 s",
        "broker restarted (restart 1)",
        "broker is ready again (restart 1)",
    ]
