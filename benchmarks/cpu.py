"""Where the machine's CPU goes during a measured stretch, per notice and per process (Linux only).

Each process's user + system time comes from ``/proc/<pid>/stat``. PostgreSQL counts its
postmaster, every live child (the backends, WAL writer, checkpointer ...) and the children it
has already reaped (``cutime``/``cstime``), so a backend that ends between two readings is still
counted once. The load client is this benchmark process (it also waits for the tasks, which costs
little). "Machine busy" is the share of every core's time not idle in ``/proc/stat``, so what is
not under a named process (the kernel, other programs) shows as the difference."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from samspil.local.runner import LocalStack

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields start after its end.
    return text[text.rindex(")") + 2 :].split()


def _seconds(fields: list[str], *, reaped_children: bool) -> float:
    # Fields after the name, from 0: 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def _children_of(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def process_seconds(pid: int, *, with_children: bool = False) -> float:
    """CPU seconds of ``pid`` (0.0 when it is gone); with its live and reaped children."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    total = _seconds(fields, reaped_children=with_children)
    if with_children:
        for child in _children_of(pid):
            child_fields = _stat_fields(child)
            if child_fields is not None:
                total += _seconds(child_fields, reaped_children=True)
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) seconds summed over all cores since boot, from /proc/stat's first line."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


@dataclass(frozen=True)
class Reading:
    seconds: Mapping[str, float]
    busy: float
    total: float


class CpuMeter:
    def __init__(self, stack: LocalStack, broker_pid: int | None, postgres_data_dir: Path) -> None:
        self.stack = stack
        self.broker_pid = broker_pid
        self.postgres_data_dir = postgres_data_dir

    def read(self) -> Reading:
        seconds = {
            name: process_seconds(process.pid, with_children=True)
            for name, process in sorted(self.stack.processes.items())
        }
        postmaster = self._postmaster()
        if postmaster is not None:
            seconds["PostgreSQL"] = process_seconds(postmaster, with_children=True)
        if self.broker_pid is not None:
            seconds["broker (Tansu)"] = process_seconds(self.broker_pid, with_children=True)
        times = os.times()
        seconds["load client"] = times.user + times.system
        busy, total = machine_busy_seconds()
        return Reading(seconds, busy, total)

    def _postmaster(self) -> int | None:
        try:
            return int((self.postgres_data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None


def per_notice(before: Reading, after: Reading, notices: int) -> dict[str, float]:
    """Milliseconds of CPU per notice of each process between two readings, plus ``total`` (the
    named processes), ``machine busy %`` and ``wall s``."""
    shares = {
        name: (after.seconds[name] - before.seconds.get(name, 0.0)) * 1000 / notices for name in after.seconds
    }
    shares["total"] = sum(shares.values())
    wall = (after.total - before.total) / (os.cpu_count() or 1)
    shares["machine busy %"] = 100 * (after.busy - before.busy) / max(after.total - before.total, 1e-9)
    shares["wall s"] = wall
    return shares


def report(label: str, shares: Mapping[str, float]) -> list[str]:
    named = [name for name in shares if name not in ("total", "machine busy %", "wall s")]
    parts = ", ".join(f"{name} {shares[name]:.2f}" for name in named)
    return [
        f"  CPU per notice, {label} (ms): {parts}; total {shares['total']:.2f}"
        f" (machine {shares['machine busy %']:.0f} % busy over {shares['wall s']:.1f} s)"
    ]
