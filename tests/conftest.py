from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from samspil.runtime.kafka import ensure_topics
from schemas.topics import CATALOGUE
from tests.infra import Infra, _run, provide_infra


@contextlib.contextmanager
def server_state_dir() -> Iterator[Path]:
    """A folder for an embedded PostgreSQL cluster, outside pytest's own temporary root: as
    root, the server runs as another user who must traverse the path, and a second pytest
    session would take that permission away from pytest's root mid-run."""
    folder = Path(tempfile.mkdtemp(prefix="samspil-test-"))
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
