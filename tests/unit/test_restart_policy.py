"""The local runner restarts a dying service after a pause that doubles while it keeps dying
quickly, is capped, and starts over once the service has run healthily for a while."""

from __future__ import annotations

from samspil.local.supervisor import RestartPolicy

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
