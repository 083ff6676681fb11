"""Wires one service's runtime parts together: database pool and migrations, topics, the
FastStream consumer, the outbox relay, health checks and an orderly stop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import asyncpg
import structlog
from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from samspil.runtime.audit import protection_status
from samspil.runtime.consumer import EventHandler, ReliableConsumer, commit_offset, tolerant_headers
from samspil.runtime.db import create_pool, migrate
from samspil.runtime.kafka import KafkaSender, ensure_topics
from samspil.runtime.kafka_security import faststream_security, kafka_client_options
from samspil.runtime.metrics import DatabaseGauge, ServiceMetrics, worker_context
from samspil.runtime.outbox import OutboxRelay
from samspil.runtime.settings import RuntimeSettings
from schemas.base import EventData
from schemas.registry import EVENT_TYPES, UPCASTS, messages_on
from schemas.topics import CATALOGUE, Topic, dead_letter_topic

log = structlog.get_logger("samspil.service")


@dataclass
class Subscription:
    """What a service consumes: the topics and a handler per event type it cares about."""

    topics: Sequence[Topic]
    handlers: Mapping[type[EventData], EventHandler]


@dataclass
class ServiceRuntime:
    name: str
    settings: RuntimeSettings
    migration_packages: Sequence[str]
    subscription: Subscription | None = None
    publishes: Sequence[Topic] = ()
    description: str = ""
    # Long-running jobs of the service itself (e.g. a scheduler), started with it and stopped
    # before the relay, so what they put in the outbox is still published.
    workers: Mapping[str, Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]] = field(default_factory=dict)
    # The service's own gauges read from its database on each scrape (e.g. overdue follow-ups).
    database_gauges: Sequence[DatabaseGauge] = ()
    metrics: ServiceMetrics = field(init=False)
    pool: asyncpg.Pool = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumer: ReliableConsumer | None = field(init=False, default=None)
    _sender: KafkaSender = field(init=False)
    _broker: KafkaBroker | None = field(init=False, default=None)
    _relay_task: asyncio.Task[None] | None = field(init=False, default=None)
    _subscribers: list[Any] = field(init=False, default_factory=list)
    _worker_tasks: dict[str, asyncio.Task[None]] = field(init=False, default_factory=dict)
    kafka_options: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Built once, here (so TLS files that cannot be loaded stop the service before it
        # starts), and given to every Kafka client alike: admin, outbox producer, broker.
        self.kafka_options = kafka_client_options(self.settings)
        self.metrics = ServiceMetrics(self.name, database_gauges=self.database_gauges)

    @property
    def group_id(self) -> str:
        return f"samspil-{self.name}"

    async def start(self) -> None:
        s = self.settings
        self.pool = await create_pool(s.database_url)
        applied = await migrate(self.pool, "samspil.runtime.migrations", *self.migration_packages)
        if applied:
            log.info("migrations applied", migrations=applied)
        if s.kafka_create_topics:
            await ensure_topics(
                s.kafka_bootstrap_servers,
                CATALOGUE,
                replication_factor=s.kafka_replication_factor,
                client_options=self.kafka_options,
            )
        self._sender = self.sender()
        await self._sender.start()
        if not s.kafka_create_topics:
            await self._warn_of_missing_topics()
        self.relay = OutboxRelay(
            self.pool,
            self._sender,
            batch_size=s.outbox_batch_size,
            poll_interval=s.outbox_poll_seconds,
            broker_epoch=s.broker_epoch,
        )
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay")
        for name, worker in self.workers.items():
            with worker_context(self.metrics, name):  # the task counts its rounds under this name
                self._worker_tasks[name] = asyncio.create_task(worker(self.pool), name=f"{self.name}-{name}")
        if self.subscription is not None:
            self.consumer = ReliableConsumer(
                name=self.name,
                pool=self.pool,
                handlers=self.subscription.handlers,
                known_types=EVENT_TYPES,
                upcasts=UPCASTS,
                dead_letter_key=s.dead_letter_key,
                max_attempts=s.consumer_max_attempts,
                backoff_base=s.consumer_backoff_seconds,
                metrics=self.metrics,
            )
            await self.broker().start()
        log.info("service started")

    def topics_used(self) -> list[str]:
        """The topics this service reads, publishes to and dead-letters to."""
        used = [topic.name for topic in self.publishes]
        if self.subscription is not None:
            used += [topic.name for topic in self.subscription.topics]
            used.append(dead_letter_topic(self.name).name)
        return sorted(set(used))

    async def _warn_of_missing_topics(self) -> None:
        try:
            async with asyncio.timeout(5.0):
                missing = await self._sender.missing_topics(self.topics_used())
        except Exception as error:  # the broker away: readiness says so
            log.warning("topics not checked", error=type(error).__name__)
            return
        if missing:
            log.error(
                "topics missing and KAFKA_CREATE_TOPICS is false: not ready until they exist", topics=missing
            )

    def sender(self) -> KafkaSender:
        """A new outbox sender for the service's cluster (not started)."""
        s = self.settings
        return KafkaSender(
            s.kafka_bootstrap_servers,
            enable_idempotence=s.kafka_enable_idempotence,
            client_options=self.kafka_options,
        )

    def broker(self) -> KafkaBroker:
        """The service's FastStream broker: built once, connected only by :meth:`start`. One
        consumer reads every subscribed topic, so starting costs one group join (on Tansu each
        join takes seconds, and a restart waits for the old members besides)."""
        if self._broker is None:
            self._broker = self._build_broker(documentation=False)
        return self._broker

    def asyncapi_specification(self) -> Any:
        """Generated from a broker that is never connected, with a subscriber per topic, so each
        channel documents what travels on it."""
        return AsyncAPI(
            self._build_broker(documentation=True),
            title=f"Samspil {self.name}",
            version="1",
            description=self.description,
            schema_version="3.0.0",
        ).to_specification()

    def asyncapi(self) -> dict[str, Any]:
        document: dict[str, Any] = self.asyncapi_specification().to_jsonable()
        return document

    def _build_broker(self, *, documentation: bool) -> KafkaBroker:
        broker = KafkaBroker(
            self.settings.kafka_bootstrap_servers,
            security=faststream_security(self.kafka_options),
            allow_auto_create_topics=False,
            graceful_timeout=30.0,
            logger=logging.getLogger("faststream"),
            apply_types=False,  # our own code validates, so bad records reach the dead letters
            # FastStream's consumption metrics, in the service's registry (never in the document's).
            middlewares=() if documentation else (self.metrics.faststream,),
        )
        for topic in self.publishes:
            # Declared for the documentation: the outbox relay does the publishing.
            broker.publisher(
                topic.name,
                title=f"{topic.name}:publish",
                description=f"{topic.description} Key: {topic.key}. Sent through the outbox.",
                schema=_payload(topic),
            )
        if self.subscription is not None:
            if documentation:
                for topic in self.subscription.topics:
                    self._subscribe(broker, [topic])
            else:
                self._subscribers.append(self._subscribe(broker, self.subscription.topics))
            dead_letters = dead_letter_topic(self.name)
            broker.publisher(
                dead_letters.name,
                title=f"{dead_letters.name}:publish",
                description=f"{dead_letters.description} The original bytes and headers, except "
                "that any text holding a CPR number is replaced by a marker with its field path and "
                "a keyed hash; plus dlq_reason, dlq_error, dlq_attempts, dlq_consumer, dlq_redacted "
                "(the redacted field paths) and the original topic, partition and offset as headers.",
                schema=bytes,
            )
        return broker

    def _subscribe(self, broker: KafkaBroker, topics: Sequence[Topic]) -> Any:
        """A subscriber (one consumer in the service's group) for the topics."""
        names = ", ".join(topic.name for topic in topics)
        description = " ".join(topic.description for topic in topics)

        async def raw_body(message: Any) -> Any:
            return message.body

        async def keep_raw_headers(record: Any, original_parser: Any) -> Any:
            # Must never raise: FastStream would skip the record without a trace.
            try:
                message = await original_parser(tolerant_headers(record))
            except Exception:
                log.warning("record headers unreadable, parsing without them", offset=record.offset)
                message = await original_parser(dataclasses.replace(record, headers=[]))
            message.raw_message = record
            return message

        subscriber = broker.subscriber(
            *(topic.name for topic in topics),
            group_id=self.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.settings.kafka_session_timeout_ms // 3),
            decoder=raw_body,
            parser=keep_raw_headers,
            title=f"{names}:consume:{self.name}",
            description=f"{description} Read by the {self.name} service in consumer group "
            f"{self.group_id}: each event is handled once (inbox by event id), the offset is "
            "committed after the effect, failures are retried and then dead-lettered.",
        )

        async def on_record(body: Any) -> None:
            msg = broker.context.get("message")
            record: Any = msg.raw_message  # one aiokafka ConsumerRecord: this is not a batch subscriber
            assert self.consumer is not None
            try:
                await self.consumer.process(record)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Never let a later commit skip this record: go back to it and try again.
                log.exception("unexpected consumer failure, redelivering", offset=record.offset)
                await asyncio.sleep(1.0)
                msg.consumer.seek(TopicPartition(record.topic, record.partition), record.offset)
                return
            await commit_offset(msg.consumer, record)

        # The annotation documents the payload in AsyncAPI; the body arrives as raw bytes.
        on_record.__annotations__["body"] = _payload(topics[0]) if len(topics) == 1 else Any
        subscriber(on_record)
        return subscriber

    async def stop(self) -> None:
        """Stop taking new messages, let the relay publish what is pending, then close, all
        within the settings' stop timeout: with the broker gone a send waits for it until the
        producer's request timeout, again and again. Whatever is cut short is safe: a record
        being handled was not committed and comes again, an outbox row not published stays
        pending and is published after the next start (consumers deduplicate)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.stop_timeout_seconds

        async def within(step: str, work: Coroutine[Any, Any, Any] | asyncio.Task[Any]) -> None:
            try:
                await asyncio.wait_for(work, timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.warning("stop timeout reached, not waiting any longer", step=step)
            except Exception as error:
                log.warning("stop step failed", step=step, error=type(error).__name__)

        if self._broker is not None:
            await within("consumer", self._broker.stop())
        for task in self._worker_tasks.values():
            task.cancel()
        for task in self._worker_tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._relay_task is not None:
            self.relay.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await within("outbox relay", self._relay_task)
        await within("producer", self._sender.stop())
        try:
            await asyncio.wait_for(self.pool.close(), timeout=max(1.0, deadline - loop.time()))
        except TimeoutError:
            self.pool.terminate()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2.0):
                await self.pool.fetchval("SELECT 1")
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"failing: {type(error).__name__}"
        try:
            async with asyncio.timeout(3.0):
                reachable = await self._sender.is_reachable()
            checks["broker"] = "ok" if reachable else "failing: no metadata"
        except Exception as error:
            checks["broker"] = f"failing: {type(error).__name__}"
        if not self.settings.kafka_create_topics and checks["broker"] == "ok":
            checks["topics"] = await self._topics_check()
        relay_alive = self._relay_task is not None and not self._relay_task.done()
        checks["outbox-relay"] = "ok" if relay_alive else "failing: stopped"
        for name, task in self._worker_tasks.items():
            checks[name] = "failing: stopped" if task.done() else "ok"
        if self._subscribers:
            consuming = all(
                subscriber.running and any(not task.done() for task in subscriber.tasks)
                for subscriber in self._subscribers
            )
            checks["consumer"] = "ok" if consuming else "failing: not consuming"
        return checks

    async def _topics_check(self) -> str:
        """With KAFKA_CREATE_TOPICS false someone else creates the topics (e.g. Strimzi from
        deploy/k8s/kafka/topics.yaml): name any that are missing."""
        try:
            async with asyncio.timeout(3.0):
                missing = await self._sender.missing_topics(self.topics_used())
        except Exception as error:
            return f"failing: {type(error).__name__}"
        if missing:
            return f"failing: missing {', '.join(missing)} (KAFKA_CREATE_TOPICS is false; create them)"
        return "ok"

    async def consumer_lag(self) -> dict[tuple[str, int], int]:
        """Records not yet handled, per partition this process is assigned: the partition's end
        offset minus the group's committed offset (offsets are committed only after a record's
        effect). Asks the broker (one offsets request, one committed-offset request per partition):
        the consumer's own view stops moving while a handler is stuck."""
        lag: dict[tuple[str, int], int] = {}
        for subscriber in self._subscribers:
            consumer = subscriber.consumer
            if consumer is None:
                continue
            partitions = sorted(consumer.assignment())
            async with asyncio.timeout(2.0):
                ends = await consumer.end_offsets(partitions)
                committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
                # No commit yet: the group reads from the earliest record it can.
                starts = await consumer.beginning_offsets(partitions) if None in committed else {}
                for tp, offset in zip(partitions, committed, strict=True):
                    handled = offset if offset is not None else starts[tp]
                    lag[(tp.topic, tp.partition)] = max(0, ends[tp] - handled)
        return lag

    async def notices(self) -> dict[str, str]:
        """What an operator should fix that does not stop the service from working."""
        try:
            async with asyncio.timeout(2.0), self.pool.acquire() as conn:
                audit = await protection_status(conn)
        except Exception as error:
            audit = f"unknown: {type(error).__name__}"
        return {} if audit == "ok" else {"audit-tables": audit}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()


def _payload(topic: Topic) -> Any:
    """Every message that travels on the topic, as one documented payload."""
    models = messages_on(topic)
    return Union[tuple(models)] if len(models) > 1 else models[0]  # noqa: UP007
