"""The progress bar redraws in place on a terminal and writes a line now and then elsewhere, and
always shows where it ended."""

from __future__ import annotations

import io

from samspil.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_it_writes_a_line_per_interval_and_the_last_step() -> None:
    log = io.StringIO()
    bar = ProgressBar(total=4000, unit="lines", stream=log, interval=3600)
    for done in (1000, 2000, 3000, 4000):
        bar.update(done, "2,000 citizens/s")
    bar.close()
    assert log.getvalue().splitlines() == [
        " 25% 1,000/4,000 lines  2,000 citizens/s",
        "100% 4,000/4,000 lines  2,000 citizens/s",
    ]


def test_on_a_terminal_it_redraws_one_line_and_prints_messages_above_it() -> None:
    screen = Terminal()
    bar = ProgressBar(total=10, unit="lines", stream=screen, interval=0)
    bar.update(5)
    bar.print("line 7: cpr: must start with a real birth date (DDMMYY)")
    bar.update(10)
    bar.close()
    text = screen.getvalue()
    assert "\n" not in text.split("line 7")[0]  # the bar was redrawn in place, not scrolled
    assert text.count("[###############...............]  50% 5/10 lines") == 2  # drawn again below
    assert text.endswith("[##############################] 100% 10/10 lines\n")
