"""Files the local runner writes that only their owner may read: logs can hold what a service
or PostgreSQL saw (a failed CREATE ROLE is logged with its password)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


def private_directory(path: Path) -> Path:
    """Create the folder owner-only, and make it so if it already existed with a looser mode."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIRECTORY)
    return path


def open_private_log(path: Path) -> BinaryIO:
    """Open a log for appending, readable by its owner only, even if it existed with a looser mode."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "ab")
