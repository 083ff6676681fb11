"""Free ports for the servers the tests and the local runner start: never handed out twice,
below the kernel's ephemeral range, and split between pytest-xdist workers."""

from __future__ import annotations

import socket

import pytest

from samspil.local import runner


def test_no_port_is_handed_out_twice_even_before_it_is_bound() -> None:
    ports = [runner.free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_ports_lie_below_the_ephemeral_range_where_outgoing_connections_take_theirs() -> None:
    start = runner._ephemeral_start()
    if start <= runner._PORTS_FROM:
        pytest.skip(f"this machine's ephemeral range starts at {start}")
    assert all(runner._PORTS_FROM <= runner.free_port() < start for _ in range(50))


def test_each_xdist_worker_takes_from_its_own_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_ephemeral_start", lambda: 32768)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    shares = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        shares.append(runner._port_share())
    (low0, high0), (low1, high1) = shares
    assert low0 == runner._PORTS_FROM and high0 <= low1 and high1 <= 32768
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert all(low1 <= runner.free_port() < high1 for _ in range(50))


def test_a_port_something_listens_on_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        taken.listen()
        monkeypatch.setattr(runner, "_port_share", lambda: (port, port + 1))
        # The only port of the share is taken: the kernel picks one instead.
        assert runner.free_port() != port
