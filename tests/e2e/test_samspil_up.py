"""`samspil up` as an operator runs it: each service is reported as it becomes ready, a service
killed under it comes back and the terminal says so, and Ctrl-C stops everything and leaves no
process behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

from samspil.local.runner import SERVICES, free_port

pytestmark = pytest.mark.e2e


class Terminal:
    """The output of a running command, read line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout} s: {self.lines}") from None
            self.lines.append(line)
            if text in line:
                return line


def descendants(pid: int) -> set[int]:
    """The process's children, their children, and so on."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def service_pid(runner: int, module: str, http_port: int | None = None) -> int:
    """The process that runs the module (on that HTTP port, when replicas share the module)."""
    for pid in descendants(runner):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:3] != [b"-m", module.encode()]:
            continue
        if http_port is None or any(entry.endswith(f"_HTTP_PORT={http_port}".encode()) for entry in environ):
            return pid
    raise AssertionError(f"no process runs {module}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_samspil_up_restarts_a_killed_service_and_stops_cleanly_on_ctrl_c(server_dir: Path) -> None:
    """With --replicas 2: each department runs twice, and each instance is reported ready."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "KAFKA_BOOTSTRAP_SERVERS" and not key.endswith("_DATABASE_URL")
    }
    broker_port = free_port()
    env |= {
        "PYTHONUNBUFFERED": "1",
        "SAMSPIL_BROKER_PORT": str(broker_port),
        "SAMSPIL_POSTGRES_PORT": str(free_port()),
        **{f"{spec.env_prefix}HTTP_PORT": str(free_port()) for spec in SERVICES},
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "samspil.cli", "up", "--state-dir", str(server_dir), "--replicas", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    terminal = Terminal(up)
    started: set[int] = set()
    try:
        terminal.wait_for("Press Ctrl-C to stop.")
        ready = [line.split()[0] for line in terminal.lines if " is ready (" in line]
        assert sorted(ready) == ["employment", "employment-2", "provider-gateway", "social", "social-2"]
        assert any(line.startswith("  social-2 is ready (replica 2 of 2, ") for line in terminal.lines)
        # The gateway runs alone: its line names no replica.
        assert any(
            re.fullmatch(r"  provider-gateway is ready \(\d+\.\d s\)\n", line) for line in terminal.lines
        )
        # The provider portal's address is printed, and it answers there (asking to log in first).
        portal = next(line.split()[-1] for line in terminal.lines if line.startswith("  Provider portal "))
        assert portal == f"http://127.0.0.1:{env['PROVIDER_GATEWAY_HTTP_PORT']}/portal/"
        assert httpx.get(portal, timeout=30).headers["location"] == "/portal/login?next=/portal/"
        started = descendants(up.pid)
        crashed = service_pid(up.pid, "employment", int(env["EMPLOYMENT_HTTP_PORT"]))
        os.kill(crashed, signal.SIGKILL)
        assert "restarting in 1 s" in terminal.wait_for("employment exited with code -9")
        terminal.wait_for("employment restarted (restart 1)")
        terminal.wait_for("employment is ready again (restart 1)")
        restarted = service_pid(up.pid, "employment", int(env["EMPLOYMENT_HTTP_PORT"]))
        assert restarted != crashed
        started |= descendants(up.pid)
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=120)
    terminal.wait_for("Stopped.")
    assert code == 0
    assert not any("Traceback" in line for line in terminal.lines), terminal.lines
    # Nothing is left: no process the runner started, no broker, no PostgreSQL.
    assert len(started) >= 6
    assert [pid for pid in started if alive(pid)] == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", broker_port)) != 0
    assert not (server_dir / "pgdata" / "postmaster.pid").exists()
