"""The runtime's own Kafka clients: the outbox sender and topic creation from the catalogue."""

from __future__ import annotations

import asyncio
import random
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import aiokafka.client
import structlog
from aiokafka import AIOKafkaProducer, errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from samspil.runtime.codec import Record
from schemas.topics import Topic

log = structlog.get_logger("samspil.kafka")


class _MetadataRequestWithoutTopicCreation(MetadataRequest):  # type: ignore[misc]
    """aiokafka asks for a topic's metadata allowing the broker to create it, and a broker that
    allows it (the embedded one always does) creates it with its own default partitions: after
    a restart, the first client to ask for a catalogue topic made it with 4 partitions instead
    of 6, and records the producer then sent to partitions 4 and 5 were acknowledged and lost.
    Topics come from the catalogue (ensure_topics) or the operator, never from a question."""

    def __init__(self, topics: list[str] | None = None, allow_auto_topic_creation: bool = False) -> None:
        super().__init__(topics, False)  # whatever the caller asked


# The clients (producer, consumers) look the name up in their module at each request. If a
# newer aiokafka stops doing so, this must fail loudly, not quietly do nothing.
if not issubclass(getattr(aiokafka.client, "MetadataRequest", object), MetadataRequest):
    raise ImportError(
        f"aiokafka {aiokafka.__version__}: aiokafka.client.MetadataRequest is not the request class "
        "samspil.runtime.kafka replaces to stop clients creating topics; check the new version"
    )
aiokafka.client.MetadataRequest = _MetadataRequestWithoutTopicCreation

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
        request_timeout_ms: int = 15000,
        max_batch_bytes: int = 256 * 1024,
    ) -> None:
        """``client_options``: the cluster's security, from ``kafka_client_options``.
        ``request_timeout_ms``: also how long a send waits for a topic's metadata.
        ``max_batch_bytes``: the most one record batch to one partition holds (a single larger
        record goes alone); well under the brokers' default message.max.bytes (1 MiB)."""
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": enable_idempotence,
            # send_all hands the producer whole batches, sent at once: nothing to linger for.
            "linger_ms": 0,
            "max_batch_size": max_batch_bytes,
            "compression_type": None,
            "request_timeout_ms": request_timeout_ms,
            **(client_options or {}),
        }
        self._producer = AIOKafkaProducer(**self._config)
        self._idempotent = enable_idempotence
        self._generation = 0  # producers renewed so far
        self._renewing = asyncio.Lock()
        self._max_request_size = _MAX_REQUEST_SIZE
        self._key_hashes: dict[bytes, int] = {}

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        """Send in order; return, per record, None once the broker acknowledged it, else why not.

        A citizen's events are never published out of order: the records are grouped by
        partition (a key's records all go to one, in order) and each partition's go in record
        batches one after another, the next only once the broker acknowledged the one before;
        once one fails (before it left or later, in delivery), the partition's later records
        are held back. Once a record fails before it left (too large, its topic unavailable),
        the later records with the same key are held back on every topic. Once a topic's
        metadata could not be had (a missing topic: the wait takes the request timeout), the
        batch's records to that topic fail at once, so they cost one wait, not one each, and
        the other topics' records are not kept waiting behind them."""
        results: list[BaseException | None] = [None] * len(records)
        failed_keys: set[bytes | None] = set()
        partitions: dict[str, list[int] | BaseException] = {}
        queues: dict[tuple[str, int], list[int]] = {}
        for index, record in enumerate(records):
            if record.key in failed_keys:
                results[index] = HeldBack("an earlier record with the same key failed")
                continue
            known = partitions.get(record.topic)
            if known is None:
                try:
                    known = partitions[record.topic] = sorted(
                        await self._producer.partitions_for(record.topic)
                    )
                except Exception as error:  # a missing topic, the broker not answering
                    partitions[record.topic] = error
                    failed_keys.add(record.key)
                    results[index] = error
                    continue
            if isinstance(known, BaseException):
                failed_keys.add(record.key)
                results[index] = TopicUnavailable(record.topic, known)
                continue
            size = DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key, record.value, record.headers)
            if size > self._max_request_size:
                failed_keys.add(record.key)
                results[index] = errors.MessageSizeTooLargeError(
                    f"The message is {size} bytes when serialized, more than the producer's"
                    f" max_request_size {self._max_request_size}"
                )
                continue
            queues.setdefault((record.topic, self._partition(record.key, known)), []).append(index)
        await asyncio.gather(
            *(
                self._send_partition(topic, partition, [records[i] for i in indexes], indexes, results)
                for (topic, partition), indexes in queues.items()
            )
        )
        return results

    async def _send_partition(
        self,
        topic: str,
        partition: int,
        records: Sequence[Record],
        indexes: Sequence[int],
        results: list[BaseException | None],
    ) -> None:
        """One partition's records in order, batch after acknowledged batch; a failed batch
        holds the partition's later records back. The broker refuses a record batch as a whole:
        when it can never take one of several records (too large for the topic), they go again
        one by one, so only that record fails for good, and those before it are published."""
        start = 0
        alone_until = 0  # records before this index go one per batch
        while start < len(records):
            batch = self._producer.create_batch()
            end = start
            for record in records[start : start + 1 if start < alone_until else len(records)]:
                appended = batch.append(
                    timestamp=None, key=record.key, value=record.value, headers=record.headers
                )
                if appended is None:
                    break
                end += 1
            generation = self._generation
            try:
                delivered = await self._producer.send_batch(batch, topic, partition=partition)
                await delivered
            except Exception as error:
                if self._idempotent and isinstance(error, _SEQUENCE_BROKEN):
                    await self._renew_producer(generation)
                if isinstance(error, PERMANENT_ERRORS) and end - start > 1:
                    alone_until = end
                    continue
                for position in range(start, end):
                    results[indexes[position]] = error
                for position in range(end, len(records)):
                    results[indexes[position]] = HeldBack(
                        f"an earlier record to {topic} [{partition}] failed ({type(error).__name__})"
                    )
                return
            start = end

    async def _renew_producer(self, generation: int) -> None:
        """An idempotent producer numbers each partition's batches, and a batch the broker
        refused (too large, say) leaves the producer's number ahead of the broker's: every later
        batch to that partition would fail as out of order, for ever. A new producer (a new
        producer id) starts afresh. Once per failure, however many partitions saw it; sends in
        flight on the old producer finish or fail (failed records stay pending)."""
        async with self._renewing:
            if generation != self._generation:
                return  # renewed already, after this batch was sent
            old, self._producer = self._producer, AIOKafkaProducer(**self._config)
            self._generation += 1
            await self._producer.start()
            await old.stop()

    def _partition(self, key: bytes | None, partitions: list[int]) -> int:
        """The partition the Java client and aiokafka's default partitioner choose for the key
        (murmur2; a random one for none), with the key's hash kept: a citizen's key recurs, and
        the hash is pure Python."""
        if key is None:
            return random.choice(partitions)
        hashed = self._key_hashes.get(key)
        if hashed is None:
            if len(self._key_hashes) >= _KEY_HASHES_KEPT:
                self._key_hashes.clear()
            hashed = self._key_hashes[key] = murmur2(key) & 0x7FFFFFFF
        return partitions[hashed % len(partitions)]

    def connections(self) -> tuple[object, ...] | None:
        """The producer's open broker connections, the objects themselves (kept, so none is
        mistaken for a later one). The same ones as at an earlier look mean no connection was
        made again since, so the broker is the same process: one replaced at its address closes
        them. None when the client does not say (the relay then asks the broker itself)."""
        conns = getattr(self._producer.client, "_conns", None)
        if not isinstance(conns, dict):
            return None
        return tuple(conn for conn in conns.values() if conn.connected())

    async def is_reachable(self) -> bool:
        return bool(await self._producer.client.force_metadata_update())

    async def missing_topics(self, names: Iterable[str]) -> list[str]:
        """Those of the named topics the cluster does not have (one metadata request)."""
        cluster = await self._producer.client.fetch_all_metadata()
        present = cluster.topics(exclude_internal_topics=False)
        return sorted(name for name in set(names) if name not in present)

    async def cluster_id(self) -> str | None:
        """The cluster id the broker gives now (one metadata request for no topic); None from a
        broker too old to say. Raises when the broker cannot be reached."""
        client = self._producer.client
        first = client.get_random_node()
        if first is None:
            raise errors.KafkaConnectionError("no broker known")
        # Another known broker when the first does not answer (one of a cluster's may be away).
        nodes = [first, *(broker.nodeId for broker in client.cluster.brokers() if broker.nodeId != first)]
        for node in nodes[:-1]:
            try:
                return _cluster_id(await client.send(node, MetadataRequest([])))
            except errors.KafkaError:
                continue
        return _cluster_id(await client.send(nodes[-1], MetadataRequest([])))


def _cluster_id(response: Any) -> str | None:
    cluster: str | None = getattr(response, "cluster_id", None)
    return cluster


class BrokerOutage:
    """Counts failed attempts to reach the broker and says so in one line per ``interval``
    seconds (the first at once), and once more when it answers again. ``cause``, when the
    service found one (a TLS session the broker refuses), goes into each line: the clients'
    own errors say only that they could not bootstrap."""

    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self.since: float | None = None
        self.attempts = 0
        self.last_error = ""
        self.cause: str | None = None
        self._logged_at = 0.0

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def due(self) -> bool:
        """Whether the next failed attempt will be logged: the time to look for its cause."""
        return self.since is None or self._clock() - self._logged_at >= self.interval

    def failed(self, error: BaseException) -> None:
        now = self._clock()
        if self.since is None:
            self.since, self.attempts, self._logged_at = now, 0, now - self.interval
        self.attempts += 1
        # The type only where others may read it (readiness); the log says more.
        self.last_error = type(error).__name__
        if now - self._logged_at >= self.interval:
            self._logged_at = now
            log.warning(
                "broker unreachable, still trying",
                failed_attempts=self.attempts,
                for_seconds=round(now - self.since),
                error=self.last_error,
                detail=" ".join(str(error).split())[:300],
                **({"likely_cause": self.cause} if self.cause else {}),
            )

    def succeeded(self) -> None:
        if self.since is None:
            return
        log.info(
            "broker reachable again",
            failed_attempts=self.attempts,
            after_seconds=round(self._clock() - self.since),
        )
        self.since, self.attempts, self.last_error, self.cause = None, 0, "", None


class HeldBack(Exception):
    """Not sent, to keep per-key order behind an earlier failure; sent again next time."""


class TopicUnavailable(Exception):
    """Not sent: an earlier record to the same topic in the batch found no metadata for it (the
    topic missing, or the broker not answering); sent again next time."""

    def __init__(self, topic: str, cause: BaseException) -> None:
        super().__init__(f"{topic}: an earlier record to it failed ({type(cause).__name__})")


# Failures after which an idempotent producer's numbering no longer matches the broker's.
_SEQUENCE_BROKEN: tuple[type[BaseException], ...] = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.OutOfOrderSequenceNumber,
    errors.InvalidTopicError,
)


# Failures of the record itself: retrying cannot help, so the relay parks the record.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidTopicError,
)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of a key (org.apache.kafka.common.utils.Utils.murmur2, unsigned), as
    aiokafka's pure-Python one computes it, several times faster: the words unpacked at once."""
    m = 0x5BD1E995
    length = len(data)
    words = length // 4
    h = 0x9747B28C ^ length
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length & 3
    if tail:
        at = words * 4
        if tail == 3:
            h ^= data[at + 2] << 16
        if tail >= 2:
            h ^= data[at + 1] << 8
        h = ((h ^ data[at]) * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


_MAX_REQUEST_SIZE = 1048576  # aiokafka's default max_request_size, which the producer keeps
_KEY_HASHES_KEPT = 50_000  # a few MB at most; a citizen's key recurs


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
