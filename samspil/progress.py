"""A progress bar for long commands, on stderr: redrawn in place on a terminal, and one plain
line every ``interval`` seconds otherwise (a log file or a CI job), so neither floods."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(
        self, total: int, unit: str, stream: TextIO | None = None, interval: float | None = None
    ) -> None:
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.1 if self.tty else 5.0)
        self._last_drawn = float("-inf")
        self._shown = ""

    def update(self, done: int, note: str = "") -> None:
        now = time.monotonic()
        # The last step is always shown: a log should end at 100 %.
        if done < self.total and now - self._last_drawn < self.interval:
            return
        self._last_drawn = now
        share = min(done / self.total, 1.0)
        figures = f"{share:4.0%} {done:,}/{self.total:,} {self.unit}" + (f"  {note}" if note else "")
        if self.tty:
            filled = int(share * 30)
            self._shown = f"[{'#' * filled}{'.' * (30 - filled)}] {figures}"
            self.stream.write(f"\r\x1b[2K{self._shown}")
        else:
            self.stream.write(f"{figures}\n")
        self.stream.flush()

    def print(self, text: str) -> None:
        """A line above the bar, which is drawn again below it."""
        if self.tty and self._shown:
            self.stream.write(f"\r\x1b[2K{text}\n{self._shown}")
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
        self._shown = ""
