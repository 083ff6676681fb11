"""The runtime's own Kafka clients: the outbox sender and topic creation from the catalogue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from samspil.runtime.codec import Record
from schemas.topics import Topic

log = structlog.get_logger("samspil.kafka")

_TOPIC_EXISTS = 36
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself


class KafkaSender:
    """Sends raw records and reports, per record, whether the broker acknowledged it."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        enable_idempotence: bool,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``client_options``: the cluster's security, from ``kafka_client_options``."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=enable_idempotence,
            linger_ms=5,
            request_timeout_ms=15000,
            **(client_options or {}),
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

    async def missing_topics(self, names: Iterable[str]) -> list[str]:
        """Those of the named topics the cluster does not have (one metadata request)."""
        cluster = await self._producer.client.fetch_all_metadata()
        present = cluster.topics(exclude_internal_topics=False)
        return sorted(name for name in set(names) if name not in present)


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
    bootstrap_servers: str,
    topics: Iterable[Topic],
    *,
    replication_factor: int = 1,
    client_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the catalogue's topics that do not exist yet, and give those that do the
    catalogue's retention. Returns the names created. ``client_options``: the cluster's
    security, from ``kafka_client_options``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(client_options or {}))
    await admin.start()
    try:
        wanted = list(topics)
        existing = set(await admin.list_topics())
        await _align_retention(admin, [topic for topic in wanted if topic.name in existing])
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


async def _align_retention(admin: AIOKafkaAdminClient, topics: Sequence[Topic]) -> None:
    """A topic keeps the retention it was created with; when the catalogue has since changed it
    (a dead-letter topic must not outlive its sources), set it again. A broker that cannot alter
    configs gets a warning naming what to set by hand."""
    if not topics:
        return
    wanted = {topic.name: str(topic.retention_ms) for topic in topics}
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
        )
    except Exception as error:
        log.warning("topic configs unreadable, retention not checked", error=repr(error))
        return
    changes = []
    for response in responses:
        for error_code, _, _, name, entries in response.resources:
            if error_code or name not in wanted:
                continue
            current = {entry[0]: entry[1] for entry in entries}
            if current.get("retention.ms") == wanted[name]:
                continue
            # AlterConfigs replaces the topic's own settings: keep the others it has.
            own = {entry[0]: entry[1] for entry in entries if entry[3] == _DYNAMIC_TOPIC_CONFIG}
            changes.append(
                ConfigResource(ConfigResourceType.TOPIC, name, configs={**own, "retention.ms": wanted[name]})
            )
    if not changes:
        return
    try:
        for response in await admin.alter_configs(changes):
            for error_code, message, _, name in response.resources:
                if error_code:
                    raise RuntimeError(f"{name}: {message} (code {error_code})")
        log.info("topic retention set from the catalogue", topics=[change.name for change in changes])
    except Exception as error:
        for change in changes:
            log.warning(
                "topic retention differs from the catalogue and could not be changed; set it by hand",
                topic=change.name,
                retention_ms=wanted[change.name],
                error=repr(error),
            )
