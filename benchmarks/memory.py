"""Each service process's peak resident memory (VmHWM in /proc/<pid>/status, Linux only).

The kernel keeps the peak itself, so a sample at any moment covers everything before it; the
benchmark samples every second and before it stops a process (a restarted service is a new
process with a new peak), and keeps the highest per service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from samspil.local.runner import LocalStack

TARGET_MB = 250


def peak_resident_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


class PeakMemory:
    def __init__(self) -> None:
        self.peak_kb: dict[str, int] = {}

    def sample(self, stack: LocalStack) -> None:
        for name, process in list(stack.processes.items()):
            kb = peak_resident_kb(process.pid)
            if kb is not None:
                self.peak_kb[name] = max(self.peak_kb.get(name, 0), kb)

    @contextlib.asynccontextmanager
    async def watching(self, stack: LocalStack, every: float = 1.0) -> AsyncIterator[None]:
        async def sample_forever() -> None:
            while True:
                self.sample(stack)
                await asyncio.sleep(every)

        sampler = asyncio.create_task(sample_forever())
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            self.sample(stack)

    def results(self) -> dict[str, float]:
        return {name: kb / 1024 for name, kb in sorted(self.peak_kb.items())}


def report(peaks_mb: dict[str, float]) -> list[str]:
    if not peaks_mb:
        return ["peak resident memory: not measured (needs Linux /proc)"]
    return [
        f"peak resident memory, {name:<16}{mb:>10,.0f} MB   (target <= {TARGET_MB} MB"
        f"{'' if mb <= TARGET_MB else ', OVER'})"
        for name, mb in peaks_mb.items()
    ]
