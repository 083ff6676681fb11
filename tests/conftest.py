from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from samspil.runtime.kafka import ensure_topics
from schemas.topics import CATALOGUE
from tests.infra import Infra, _run, provide_infra

# Where the test servers keep their state, when not told (SAMSPIL_TEST_SERVER_ROOT): in memory
# (/dev/shm) when that is a tmpfs with room, since every cluster is thrown away after the run. On
# this machine's disk (ext4 mounted with `discard`) a hundred test databases took 10-60 s to create
# and 30 s to delete, against 6 s and 3 s in memory; what the tests prove does not depend on it
# (nothing in them survives a power cut, nor is asked to).
SERVER_ROOT_VARIABLE = "SAMSPIL_TEST_SERVER_ROOT"
MEMORY_ROOT = Path("/dev/shm")  # noqa: S108 - a tmpfs by convention, checked below
MEMORY_ROOT_ROOM = 8 * 1024**3  # a worker's session cluster reaches a few GB in a whole run


def server_root() -> Path | None:
    """The parent folder for test servers' state: the variable's, else memory when it has room,
    else None (the system's temporary folder)."""
    given = os.environ.get(SERVER_ROOT_VARIABLE)
    if given:
        return Path(given)
    try:
        tmpfs = any(
            line.split()[1:3] == [str(MEMORY_ROOT), "tmpfs"]
            for line in Path("/proc/mounts").read_text().splitlines()
        )
        stats = os.statvfs(MEMORY_ROOT)
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        available = int(meminfo["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    room = min(stats.f_bavail * stats.f_frsize, available)  # a tmpfs lives in memory
    return MEMORY_ROOT if tmpfs and room >= MEMORY_ROOT_ROOM else None


@contextlib.contextmanager
def server_state_dir() -> Iterator[Path]:
    """A folder for an embedded PostgreSQL cluster (see server_root), outside pytest's own
    temporary root: as root, the server runs as another user who must traverse the path, and a
    second pytest session would take that permission away from pytest's root mid-run."""
    folder = Path(tempfile.mkdtemp(prefix="samspil-test-", dir=server_root()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with server_state_dir() as folder, provide_infra(folder) as provided:
        _run(ensure_topics(provided.bootstrap_servers, CATALOGUE))
        yield provided


@pytest.fixture
def server_dir() -> Iterator[Path]:
    with server_state_dir() as folder:
        yield folder
