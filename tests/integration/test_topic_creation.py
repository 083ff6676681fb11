"""The services' Kafka clients never create a topic by asking about it: a broker that allows it
(the embedded one always does) would make it with its own default partitions, not the
catalogue's. Sending to a topic that does not exist fails, and the topic is still not there."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient

from samspil.runtime.codec import Record
from samspil.runtime.kafka import KafkaSender
from tests.infra import Infra


async def test_sending_to_a_missing_topic_fails_instead_of_creating_it(infra: Infra) -> None:
    topic = f"samspil.test.missing-{uuid.uuid4().hex[:8]}.v1"
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
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
