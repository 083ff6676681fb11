"""Stopping the local runner's child processes."""

from __future__ import annotations

import signal
import subprocess


def stop_process(
    process: subprocess.Popen[bytes] | None, timeout: float, stop_signal: signal.Signals = signal.SIGTERM
) -> None:
    """Ask it to stop (``stop_signal``, SIGTERM unless told: an orderly stop), and kill it if it
    has not within ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
