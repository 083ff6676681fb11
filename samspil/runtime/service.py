"""Wires one service's runtime parts together: database pool and migrations, topics, the
FastStream consumer, the outbox relay, health checks and an orderly stop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from samspil.runtime.audit import protection_status
from samspil.runtime.consumer import (
    BatchHandler,
    EventHandler,
    ReliableConsumer,
    commit_offsets,
    tolerant_headers,
)
from samspil.runtime.db import MigrationRefused, create_pool, database_tls_problem, migrate
from samspil.runtime.kafka import BrokerOutage, KafkaSender, ensure_topics
from samspil.runtime.kafka_security import faststream_security, kafka_client_options, kafka_tls_problem
from samspil.runtime.metrics import DatabaseGauge, ScheduledGauges, ServiceMetrics, worker_context
from samspil.runtime.outbox import OutboxRelay
from samspil.runtime.settings import RuntimeSettings
from schemas.base import EventData
from schemas.registry import EVENT_TYPES, UPCASTS, messages_on
from schemas.topics import CATALOGUE, Topic, dead_letter_topic

log = structlog.get_logger("samspil.service")


class StartupProblem(RuntimeError):
    """The service cannot start for a reason the operator must fix (a certificate, a CA file);
    the message says which setting, and is logged as one line, not a traceback."""


@dataclass
class Subscription:
    """What a service consumes: the topics and a handler per event type it cares about."""

    topics: Sequence[Topic]
    handlers: Mapping[type[EventData], EventHandler]
    # Set-wise twins of some handlers, for runs of their events in a batch (consumer.BatchHandler).
    batch_handlers: Mapping[type[EventData], BatchHandler] = field(default_factory=dict)


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
    # Gauges too costly for every scrape (the KPIs): each read on its schedule by a worker of its name.
    scheduled_gauges: Sequence[ScheduledGauges] = ()
    metrics: ServiceMetrics = field(init=False)
    pool: asyncpg.Pool = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumer: ReliableConsumer | None = field(init=False, default=None)
    _sender: KafkaSender | None = field(init=False, default=None)
    _broker: KafkaBroker | None = field(init=False, default=None)
    _relay_task: asyncio.Task[None] | None = field(init=False, default=None)
    _connect_task: asyncio.Task[None] | None = field(init=False, default=None)
    _watch_task: asyncio.Task[None] | None = field(init=False, default=None)
    _outage: BrokerOutage = field(init=False)
    _identity: str = field(init=False, default="")
    _identity_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _rewind_pending: bool = field(init=False, default=False)
    _rewind_task: asyncio.Task[None] | None = field(init=False, default=None)
    _subscribers: list[Any] = field(init=False, default_factory=list)
    # Background tasks that ended with an error: their name and the error's type, for readiness.
    _task_failures: dict[str, str] = field(init=False, default_factory=dict)
    _worker_tasks: dict[str, asyncio.Task[None]] = field(init=False, default_factory=dict)
    kafka_options: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Built once, here (so TLS files that cannot be loaded stop the service before it
        # starts), and given to every Kafka client alike: admin, outbox producer, broker.
        self.kafka_options = kafka_client_options(self.settings)
        self.metrics = ServiceMetrics(
            self.name, database_gauges=self.database_gauges, scheduled_gauges=self.scheduled_gauges
        )

    @property
    def group_id(self) -> str:
        return f"samspil-{self.name}"

    @property
    def database_variable(self) -> str:
        """The environment variable that holds this service's database URL."""
        prefix = type(self.settings).model_config.get("env_prefix") or ""
        return f"{prefix}DATABASE_URL".upper()

    def _kafka_tls_context(self) -> ssl.SSLContext | None:
        context: ssl.SSLContext | None = self.kafka_options.get("ssl_context")
        return context

    def _presents_certificate(self) -> bool:
        return self.settings.kafka_ssl_cert_file is not None and self.settings.kafka_ssl_key_file is not None

    async def start(self) -> None:
        """Open the database and migrate, start the service's own workers, and reach the broker
        in the background: a service started while the broker is away serves its API (its
        readiness says what it waits for), keeps trying, and stops at once when asked."""
        s = self.settings
        try:
            self.pool = await create_pool(s.database_url)
        except Exception as error:
            problem = database_tls_problem(error, self.database_variable, s.database_url)
            if problem is None:
                raise
            raise StartupProblem(problem) from None
        tls = self._kafka_tls_context()
        if tls is not None:
            # Before any Kafka client: they would report a refused certificate only as "Unable
            # to bootstrap" (and retry it for ever in the consumer).
            verdict = await kafka_tls_problem(
                s.kafka_bootstrap_servers, tls, timeout=3.0, client_certificate=self._presents_certificate()
            )
            if verdict is not None and verdict.definite:
                await self.pool.close()
                raise StartupProblem(verdict.message)
            if verdict is not None:
                # Perhaps only a broker behind a TLS proxy that is down: keep trying; readiness
                # says the likely cause while it lasts.
                log.warning("Kafka TLS session not established yet, will retry", problem=verdict.message)
        try:
            applied = await migrate(self.pool, "samspil.runtime.migrations", *self.migration_packages)
        except MigrationRefused as refused:
            await self.pool.close()
            raise StartupProblem(f"{self.name}: {refused.of(self.name)}") from None
        if applied:
            log.info("migrations applied", migrations=applied)
        self._outage = BrokerOutage(s.broker_outage_log_seconds)
        workers = {**self.workers, **{gauges.name: gauges.run for gauges in self.scheduled_gauges}}
        for name, worker in workers.items():
            with worker_context(self.metrics, name):  # the task counts its rounds under this name
                self._worker_tasks[name] = asyncio.create_task(worker(self.pool), name=f"{self.name}-{name}")
        self._connect_task = self._background(self._connect(), "broker-connect")
        log.info("service started")

    def _background(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A task of the runtime's own that must not die unseen: if it raises, the error is
        logged and readiness names it (``failing: stopped (ErrorType)``)."""
        task = asyncio.create_task(work, name=f"{self.name}-{name}")
        self._task_failures.pop(name, None)

        def ended(done: asyncio.Task[None]) -> None:
            if done.cancelled() or done.exception() is None:
                return
            error = done.exception()
            self._task_failures[name] = type(error).__name__
            log.error(
                "background task stopped",
                task=name,
                error=type(error).__name__,
                detail=" ".join(str(error).split())[:300],
            )

        task.add_done_callback(ended)
        return task

    async def _connect(self) -> None:
        """Reach the broker (retrying for as long as it takes), then start the outbox relay,
        the consumer and the broker watch."""
        s = self.settings
        delay = 0.25
        while True:
            sender = self.sender()
            try:
                if s.kafka_create_topics:
                    await self._ensure_topics()
                await sender.start()
                self._identity = await sender.cluster_id() or ""
                break
            except BaseException as error:
                # Cancelled too (a stop while connecting): a started producer is not left behind.
                with contextlib.suppress(Exception):
                    await sender.stop()
                if not isinstance(error, Exception):
                    raise
                tls = self._kafka_tls_context()
                if tls is not None and self._outage.due():
                    # The clients say only "Unable to bootstrap": once an interval, look why.
                    verdict = await kafka_tls_problem(
                        s.kafka_bootstrap_servers,
                        tls,
                        timeout=2.0,
                        client_certificate=self._presents_certificate(),
                    )
                    self._outage.cause = verdict.message if verdict is not None else None
                self._outage.failed(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._outage.succeeded()
        self._sender = sender
        if not s.kafka_create_topics:
            await self._warn_of_missing_topics()
        self.relay = OutboxRelay(
            self.pool,
            self._sender,
            batch_size=s.outbox_batch_size,
            poll_interval=s.outbox_poll_seconds,
            broker_epoch=s.broker_epoch,
            broker_identity=self.broker_identity if s.broker_check_seconds > 0 else None,
            broker_connections=sender.connections,
        )
        self._relay_task = self._background(self.relay.run(), "outbox-relay")
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
                batch_handlers=self.subscription.batch_handlers,
            )
            await self._start_consumer()
        if s.broker_check_seconds > 0:
            self._watch_task = self._background(self._watch_broker(), "broker-watch")
        log.info("broker connected", cluster_id=self._identity)

    async def connected(self) -> None:
        """Wait until the broker has been reached and the relay and the consumer started
        (:meth:`start` returns before that)."""
        if self._connect_task is not None:
            await asyncio.shield(self._connect_task)

    async def _ensure_topics(self) -> None:
        s = self.settings
        await ensure_topics(
            s.kafka_bootstrap_servers,
            CATALOGUE,
            replication_factor=s.kafka_replication_factor,
            client_options=self.kafka_options,
        )

    async def _watch_broker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.broker_check_seconds)
            await self.broker_identity()

    async def broker_identity(self) -> str | None:
        """The broker's cluster id now ("" when it does not say), None when it cannot be reached.
        A new one means a broker without what the old one held (the embedded broker keeps
        memory only): the topics are created again and the consumers go back to the beginning
        (their committed offsets are gone with the old broker; the inbox drops what they had
        handled). The relay republishes on its own (see OutboxRelay)."""
        if self._sender is None:
            return None
        async with self._identity_lock:
            try:
                async with asyncio.timeout(3.0):
                    current = await self._sender.cluster_id() or ""
            except Exception as error:
                self._outage.failed(error)
                return None
            self._outage.succeeded()
            if current == self._identity:
                return current
            log.warning("the broker was replaced (its cluster id changed)", cluster_id=current)
            if self.settings.kafka_create_topics:
                try:
                    async with asyncio.timeout(10.0):
                        await self._ensure_topics()
                except Exception as error:
                    log.warning("topics not created yet, will retry", error=type(error).__name__)
                    return None
            self._identity = current
            if self._broker is not None and (self._rewind_task is None or self._rewind_task.done()):
                # Beside, not under the lock: the relay need not wait for a group join.
                self._rewind_task = self._background(self._rewind_consumers(), "consumer-rewind")
            return current

    async def _rewind_consumers(self) -> None:
        """Start the consumer afresh, reading every partition it is given from the beginning.
        A fresh one, because the old one's positions belong to the old broker (fetched from the
        new one they would skip what it now holds below them) and so may anything it committed
        there since; the inbox drops what was handled before."""
        if self._broker is None:
            return
        # Kept as the service's broker until stopped: cancelled meanwhile (the service stopping),
        # the service's stop stops it.
        self._subscribers = []
        try:
            await asyncio.wait_for(self._broker.stop(), timeout=self.settings.stop_timeout_seconds)
        except Exception as error:
            log.warning("old consumer not stopped cleanly", error=type(error).__name__)
        self._broker = None
        self._rewind_pending = True
        await self._start_consumer()
        log.info("consumer started again, reading from the beginning")

    async def _start_consumer(self) -> None:
        """Start the FastStream broker (the consumer), trying again while the broker is away."""
        delay = 0.25
        while True:
            try:
                await self.broker().start()
                return
            except Exception as error:
                self._outage.failed(error)
                broker, self._broker, self._subscribers = self._broker, None, []
                if broker is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(broker.stop(), timeout=self.settings.stop_timeout_seconds)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def topics_used(self) -> list[str]:
        """The topics this service reads, publishes to and dead-letters to."""
        used = [topic.name for topic in self.publishes]
        if self.subscription is not None:
            used += [topic.name for topic in self.subscription.topics]
            used.append(dead_letter_topic(self.name).name)
        return sorted(set(used))

    async def _warn_of_missing_topics(self) -> None:
        """At start, say once in the log what readiness will say until the topics exist."""
        check = await self._topics_check()
        if check != "ok":
            log.error("topics not ready and KAFKA_CREATE_TOPICS is false", check=check)

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
                    self._subscribe(broker, [topic], documentation=True)
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

    def _subscribe(self, broker: KafkaBroker, topics: Sequence[Topic], *, documentation: bool = False) -> Any:
        """A subscriber (one consumer in the service's group) for the topics; for the document, one
        that takes single records, so each channel shows the message that travels on it."""
        names = ", ".join(topic.name for topic in topics)
        description = " ".join(topic.description for topic in topics)

        async def raw_body(message: Any) -> Any:
            return message.body

        async def keep_raw_headers(records: Any, original_parser: Any) -> Any:
            # Must never raise: FastStream would skip the records without a trace. It reads the
            # first record's headers only (its log context); ours reads the original records.
            if not records:
                return await original_parser(records)
            bare = [dataclasses.replace(record, headers=[]) for record in records[1:]]
            try:
                message = await original_parser((tolerant_headers(records[0]), *bare))
            except Exception:
                log.warning("record headers unreadable, parsing without them", offset=records[0].offset)
                message = await original_parser(tuple(dataclasses.replace(r, headers=[]) for r in records))
            message.raw_message = records
            return message

        subscriber = broker.subscriber(
            *(topic.name for topic in topics),
            group_id=self.group_id,
            # Batches (what one fetch holds, partition by partition, up to the batch size): each
            # is handled in one transaction and committed after it (consumer.py).
            batch=not documentation,
            max_records=self.settings.consumer_batch_size,
            batch_timeout_ms=self.settings.consumer_batch_wait_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.settings.kafka_session_timeout_ms // 3),
            listener=_RewindOnAssignment(self),
            decoder=raw_body,
            parser=keep_raw_headers,
            title=f"{names}:consume:{self.name}",
            description=f"{description} Read by the {self.name} service in consumer group "
            f"{self.group_id}: each event is handled once (inbox by event id), the offset is "
            "committed after the effect, failures are retried and then dead-lettered.",
        )

        async def on_records(body: Any) -> None:
            msg = broker.context.get("message")
            records: Sequence[Any] = msg.raw_message  # aiokafka ConsumerRecords, partition by partition
            assert self.consumer is not None
            progress = await self.consumer.process_batch(records)
            # Only what is durably handled; never past a record that met an unexpected failure.
            await commit_offsets(msg.consumer, progress.commit)
            if progress.rewind:
                await asyncio.sleep(1.0)
                for partition, offset in progress.rewind.items():
                    msg.consumer.seek(partition, offset)

        # The annotation documents the payload in AsyncAPI; the body arrives as raw bytes.
        on_records.__annotations__["body"] = _payload(topics[0]) if len(topics) == 1 else Any
        subscriber(on_records)
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

        for task in (self._connect_task, self._watch_task, self._rewind_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
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
        if self._sender is not None:
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
            problem = database_tls_problem(error, self.database_variable)
            checks["database"] = f"failing: {problem or type(error).__name__}"
        if self._sender is None:
            reason = self._outage.last_error if self._outage.ongoing else "connecting"
            checks["broker"] = f"failing: {reason}"
        else:
            try:
                async with asyncio.timeout(3.0):
                    reachable = await self._sender.is_reachable()
                checks["broker"] = "ok" if reachable else "failing: no metadata"
            except Exception as error:
                checks["broker"] = f"failing: {type(error).__name__}"
        tls = self._kafka_tls_context()
        if checks["broker"] != "ok" and tls is not None:
            # Say why, when it is the TLS session (a certificate rotated, a CA replaced).
            verdict = await kafka_tls_problem(
                self.settings.kafka_bootstrap_servers,
                tls,
                timeout=2.0,
                client_certificate=self._presents_certificate(),
            )
            if verdict is not None:
                checks["broker"] = f"failing: {verdict.message}"
        if not self.settings.kafka_create_topics and checks["broker"] == "ok":
            checks["topics"] = await self._topics_check()
        relay_alive = self._relay_task is not None and not self._relay_task.done()
        waiting = "waiting for the broker" if self._relay_task is None else "stopped"
        checks["outbox-relay"] = "ok" if relay_alive else f"failing: {waiting}"
        for name, failure in self._task_failures.items():
            checks[name] = f"failing: stopped ({failure})"
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
        if self._sender is None:
            return "failing: waiting for the broker"
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

    async def input_offsets(self, topic: str) -> tuple[dict[int, int], dict[int, int]]:
        """Each partition of ``topic`` that this service reads: its end offset, asked first, and
        the offset up to which the service's group has handled it (committed only after the
        effect; the earliest offset when nothing was committed). Every partition, not only this
        process's; raises when the consumer is not running."""
        consumer = next(
            (
                s.consumer
                for s in self._subscribers
                if s.consumer is not None and topic in s.consumer.subscription()
            ),
            None,
        )
        if consumer is None:
            raise LookupError(f"no consumer of {topic} is running")
        numbers = consumer.partitions_for_topic(topic)
        if not numbers:
            raise LookupError(f"the partitions of {topic} are not known yet")
        partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
        async with asyncio.timeout(5.0):
            ends = await consumer.end_offsets(partitions)
            committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
            starts = await consumer.beginning_offsets(partitions) if None in committed else {}
        handled = {
            tp.partition: offset if offset is not None else starts[tp]
            for tp, offset in zip(partitions, committed, strict=True)
        }
        return {tp.partition: ends[tp] for tp in partitions}, handled

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


class _RewindOnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """After the broker was replaced, the consumer's first partitions are read from the
    beginning, whatever offsets the group has committed there (an offset out of range, below
    what retention kept, starts at the earliest record)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if not self._runtime._rewind_pending or not assigned:
            return
        self._runtime._rewind_pending = False
        for subscriber in self._runtime._subscribers:
            consumer = subscriber.consumer
            if consumer is None:
                continue
            for tp in assigned & consumer.assignment():
                consumer.seek(tp, 0)


def _payload(topic: Topic) -> Any:
    """Every message that travels on the topic, as one documented payload (the raw bytes on a
    topic that no message names, such as a test's own copy of a catalogue topic)."""
    models = messages_on(topic)
    if not models:
        return bytes
    return Union[tuple(models)] if len(models) > 1 else models[0]  # noqa: UP007
