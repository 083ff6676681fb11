"""The services' Kafka clients never create a topic by asking about it: a broker that allows it
(the embedded one always does) would make it with its own default partitions, not the
catalogue's. Sending to a topic that does not exist fails, and the topic is still not there."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import errors
from aiokafka.admin import AIOKafkaAdminClient

from samspil.runtime.codec import Record
from samspil.runtime.kafka import KafkaSender, TopicUnavailable
from schemas.topics import CATALOGUE
from tests.infra import Infra


async def test_sending_to_a_missing_topic_fails_instead_of_creating_it(infra: Infra) -> None:
    topic = f"samspil.test.missing-{uuid.uuid4().hex[:8]}.v1"
    # A short metadata wait: the record fails for the missing topic either way.
    sender = KafkaSender(
        infra.bootstrap_servers, enable_idempotence=infra.broker is None, request_timeout_ms=3000
    )
    await sender.start()
    try:
        [result] = await sender.send_all([Record(topic=topic, key=b"k", value=b"{}", headers=[])])
    finally:
        await sender.stop()
    assert result is not None
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        assert topic not in await admin.list_topics()
    finally:
        await admin.close()


async def test_records_to_a_missing_topic_wait_for_its_metadata_once_per_batch(infra: Infra) -> None:
    """A send waits the request timeout for a missing topic's metadata; the batch's other
    records to it fail at once (and stay pending), and a record to an existing topic after them
    is published in the same call."""
    missing = f"samspil.test.missing-{uuid.uuid4().hex[:8]}.v1"
    existing = CATALOGUE[0].name
    sender = KafkaSender(
        infra.bootstrap_servers, enable_idempotence=infra.broker is None, request_timeout_ms=2000
    )
    attempts: list[str] = []  # each a wait for the topic's metadata
    partitions_for = sender._producer.partitions_for

    async def counted_partitions_for(topic: str) -> Any:
        attempts.append(topic)
        return await partitions_for(topic)

    sender._producer.partitions_for = counted_partitions_for
    records = [Record(topic=missing, key=f"k{n}".encode(), value=b"{}", headers=[]) for n in range(5)]
    records.append(Record(topic=existing, key=b"other", value=b"{}", headers=[]))
    await sender.start()
    try:
        results = await sender.send_all(records)
    finally:
        await sender.stop()
    assert attempts == [missing, existing]
    assert isinstance(results[0], errors.UnknownTopicOrPartitionError)
    assert all(isinstance(result, TopicUnavailable) for result in results[1:5])
    assert results[5] is None
