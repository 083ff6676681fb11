from __future__ import annotations

from collections.abc import Iterator

import pytest

from samspil.runtime.kafka import ensure_topics
from schemas.topics import CATALOGUE
from tests.infra import Infra, _run, provide_infra


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with provide_infra(tmp_path_factory.mktemp("infra")) as provided:
        _run(ensure_topics(provided.bootstrap_servers, CATALOGUE))
        yield provided
