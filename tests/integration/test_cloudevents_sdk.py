"""A raw Kafka record produced by a service's outbox is read by the official CloudEvents SDK
without any custom code."""

from __future__ import annotations

import json

import asyncpg
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from samspil.runtime.codec import header
from samspil.runtime.db import migrate
from samspil.runtime.kafka import KafkaSender
from samspil.runtime.outbox import OutboxRelay, add_event
from schemas.topics import PROVIDER_REPORTS
from tests.infra import Infra
from tests.support import absence_notice, read_topic


async def test_a_record_from_the_outbox_is_read_by_the_cloudevents_sdk(infra: Infra) -> None:
    pool = await asyncpg.create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    envelope, notice = absence_notice()
    async with pool.acquire() as conn, conn.transaction():
        await add_event(conn, envelope, notice)
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await sender.start()
    try:
        assert await OutboxRelay(pool, sender).publish_batch() == (1, 0)
    finally:
        await sender.stop()
        await pool.close()

    key, value, headers = next(
        record
        for record in await read_topic(infra.bootstrap_servers, PROVIDER_REPORTS.name)
        if header(record[2], "ce_id") == str(envelope.id)
    )
    event = from_binary_event(KafkaMessage(headers=dict(headers), key=key, value=value))

    assert event.get_id() == str(envelope.id)
    assert event.get_type() == "dk.samspil.provider.absence-notice.submitted.v2"
    assert event.get_source() == "/samspil/provider-gateway"
    assert event.get_subject() == envelope.subject
    assert event.get_time() == envelope.time
    assert event.get_dataschema() == notice.dataschema
    assert event.get_extension("correlationid") == str(envelope.correlationid)
    assert event.get_extension("dataclassification") == "personal"
    assert event.get_data() == json.loads(notice.model_dump_json())
