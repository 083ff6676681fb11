"""With KAFKA_CREATE_TOPICS false (topics made by the cluster's operator, e.g. Strimzi from
deploy/k8s/kafka/topics.yaml) a service creates none, and its readiness names the ones missing."""

from __future__ import annotations

import asyncio
import uuid

from samspil.runtime.kafka import ensure_topics
from samspil.runtime.service import ServiceRuntime, Subscription
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.topics import PROVIDER_REPORTS, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import record_effect, runtime_settings


async def test_a_service_that_may_not_create_topics_is_not_ready_until_they_exist(infra: Infra) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    dead_letters = dead_letter_topic(name)
    runtime = ServiceRuntime(
        name=name,
        settings=runtime_settings(infra, infra.create_database()),
        migration_packages=[],  # runtime_settings: KAFKA_CREATE_TOPICS false
        subscription=Subscription(
            topics=[PROVIDER_REPORTS], handlers={AbsenceNoticeSubmitted: record_effect}
        ),
    )
    assert runtime.topics_used() == sorted([PROVIDER_REPORTS.name, dead_letters.name])
    async with runtime.running():
        await asyncio.wait_for(runtime.connected(), timeout=30)
        checks = await runtime.readiness()
        assert checks["broker"] == "ok"
        assert checks["topics"] == (
            f"failing: missing {dead_letters.name} (KAFKA_CREATE_TOPICS is false; create them)"
        )
        assert runtime._sender is not None
        assert await runtime._sender.missing_topics([dead_letters.name]) == [dead_letters.name]

        await ensure_topics(infra.bootstrap_servers, [dead_letters])
        assert (await runtime.readiness())["topics"] == "ok"
