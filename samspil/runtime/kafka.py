"""The runtime's own Kafka clients: the outbox sender and topic creation from the catalogue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import structlog
from aiokafka import AIOKafkaProducer, errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from samspil.runtime.codec import Record
from schemas.topics import Topic

log = structlog.get_logger("samspil.kafka")

_TOPIC_EXISTS = 36


class KafkaSender:
    """Sends raw records and reports, per record, whether the broker acknowledged it."""

    def __init__(self, bootstrap_servers: str, *, enable_idempotence: bool) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=enable_idempotence,
            linger_ms=5,
            request_timeout_ms=15000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        """Send in order. Once a record fails before it left, later records with the same key
        are held back, so a citizen's events are never published out of order."""
        futures = []
        failed_keys: set[bytes | None] = set()
        for record in records:
            if record.key in failed_keys:
                futures.append(_failed(HeldBack("an earlier record with the same key failed")))
                continue
            try:
                futures.append(
                    await self._producer.send(
                        record.topic, value=record.value, key=record.key, headers=record.headers
                    )
                )
            except Exception as error:
                failed_keys.add(record.key)
                futures.append(_failed(error))
        results = await asyncio.gather(*futures, return_exceptions=True)
        return [result if isinstance(result, BaseException) else None for result in results]

    async def is_reachable(self) -> bool:
        return bool(await self._producer.client.force_metadata_update())


class HeldBack(Exception):
    """Not sent, to keep per-key order behind an earlier failure; sent again next time."""


# Failures of the record itself: retrying cannot help, so the relay parks the record.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidTopicError,
)


def _failed(error: BaseException) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[Topic], *, replication_factor: int = 1
) -> list[str]:
    """Create the catalogue's topics that do not exist yet. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        wanted = list(topics)
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    topic.name,
                    num_partitions=topic.partitions,
                    replication_factor=replication_factor,
                    topic_configs={"retention.ms": str(topic.retention_ms)},
                )
                for topic in missing
            ]
        )
        created = []
        for name, code, message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != _TOPIC_EXISTS:
                raise RuntimeError(f"could not create topic {name}: {message} (code {code})")
        if created:
            log.info("topics created", topics=created)
        return created
    finally:
        await admin.close()
