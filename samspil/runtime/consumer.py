"""Reliable consumption: idempotent inbox, bounded retries with backoff, dead letters.

For each record: read the envelope, look up the type, validate the data, then run the handler
in one transaction together with the inbox row ``(consumer, event id)``, so a redelivered event
is a no-op. A handler that fails is retried with backoff; after ``max_attempts`` (or at once
for a record that cannot be parsed, has an unknown type or fails validation) the record goes to
the dead-letter table and, through the outbox, to the service's dead-letter topic with its
original bytes and headers, except that any text holding a CPR number is redacted first (the
same redacted bytes in both places; see redaction.py). Only then is the offset committed.
Database outages are not the message's fault: they are retried without counting against it.

Each record is handled in a span that continues the trace its ``ce_traceparent`` and
``ce_tracestate`` headers carry, so the handler's database work and the events it puts in the
outbox belong to the sender's trace. A missing or malformed one starts a new trace and never
dead-letters the record by itself; one holding a CPR number is an invalid envelope attribute,
and the record is dead-lettered (redacted) like any other invalid envelope. The span's status is
an error for a dead letter and for a crash (its type only, never its message).

Records come in batches (:meth:`ReliableConsumer.process_batch`). A batch's events are handled in
ONE transaction: the pending-dead-letter check and the inbox claims set-wise, then each claimed
event's handler in partition order (per-citizen order), the offsets committed only after that
transaction. Any failure in it rolls the whole batch back, and its records are then taken one by
one on the per-record path above (its retries, dead letters and all), so a poison record never
holds back or fails its neighbours. A record that cannot be read (envelope, type, data) takes the
per-record path before the batch's transaction, and goes to the dead letters alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import TopicPartition
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from samspil.runtime.codec import EnvelopeError, Headers, Record, decode_data, decode_envelope, safe_text
from samspil.runtime.db import Connection
from samspil.runtime.errors import Rejected
from samspil.runtime.metrics import ServiceMetrics
from samspil.runtime.outbox import add_record
from samspil.runtime.redaction import REDACTED_HEADER, Redactor, redact_text
from samspil.runtime.tracing import TRACE_HEADERS, context_from_headers, records_spans, tracer
from schemas.base import CommandData, EventData
from schemas.envelope import Envelope, cpr_spans
from schemas.topics import dead_letter_topic

log = structlog.get_logger("samspil.consumer")

EventHandler = Callable[[Connection, Envelope, Any], Awaitable[None]]
# Handles several events of a batch set-wise, with the same effect as its event handler called for
# each in turn (same order, same transaction).
BatchHandler = Callable[[Connection, Sequence[tuple[Envelope, Any]]], Awaitable[None]]

# Errors that say the database is away, not that the message is bad.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


class ConsumedRecord(Protocol):
    """The parts of an aiokafka ConsumerRecord that consumption needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead-lettered"
    # Within a batch only: given again while its dead letter waits for replay (measured and
    # logged as a duplicate, as the per-record path does).
    SKIPPED = "skipped"


@dataclass
class _Ready:
    """A record read and validated, to be handled in its batch's transaction (no handler: the
    service does not handle its type, and it is ignored)."""

    record: ConsumedRecord
    headers: Headers
    envelope: Envelope
    event_type: str
    handler: EventHandler | None
    data: EventData | None


class _HandlerFailed(Exception):
    """A handler raised inside a batch's transaction."""

    def __init__(self, record: ConsumedRecord, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.record = record
        self.error = error


@dataclass
class BatchProgress:
    """Per partition, the offset to commit after a batch (everything below it handled
    durably) and, after an unexpected failure, the offset to read it again from."""

    commit: dict[TopicPartition, int] = field(default_factory=dict)
    rewind: dict[TopicPartition, int] = field(default_factory=dict)

    def stopped(self, record: ConsumedRecord) -> bool:
        stop = self.rewind.get(TopicPartition(record.topic, record.partition))
        return stop is not None and record.offset >= stop

    def stop_at(self, record: ConsumedRecord) -> None:
        # The lowest failure of a partition decides: nothing from it onward is committed.
        tp = TopicPartition(record.topic, record.partition)
        self.rewind[tp] = min(self.rewind.get(tp, record.offset), record.offset)

    def handled(self, record: ConsumedRecord) -> None:
        if not self.stopped(record):
            tp = TopicPartition(record.topic, record.partition)
            self.commit[tp] = max(self.commit.get(tp, 0), record.offset + 1)


class DeadLetterReason(StrEnum):
    INVALID_ENVELOPE = "invalid-envelope"
    UNKNOWN_TYPE = "unknown-type"
    INVALID_DATA = "invalid-data"
    UNSUPPORTED_COMMAND = "unsupported-command"
    REJECTED = "rejected"
    HANDLER_FAILED = "handler-failed"


@dataclass
class ReliableConsumer:
    """Runs typed handlers for one service's consumer group, exactly once in effect."""

    name: str
    pool: asyncpg.Pool
    handlers: Mapping[type[EventData], EventHandler]
    known_types: Mapping[str, type[EventData]]
    dead_letter_key: str
    upcasts: Mapping[type[EventData], tuple[type[EventData], Callable[[Any], EventData]]] = field(
        default_factory=dict
    )
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    metrics: ServiceMetrics | None = None
    # Set-wise twins of some handlers (see BatchHandler), used for runs of their events in a batch.
    batch_handlers: Mapping[type[EventData], BatchHandler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # An older version is handled by the current version's handler, after upcasting.
        self._by_type: dict[str, tuple[type[EventData], EventHandler, Callable[[Any], EventData] | None]] = {
            model.event_type: (model, handler, None) for model, handler in self.handlers.items()
        }
        for old, (new, upcast) in self.upcasts.items():
            if new in self.handlers and old not in self.handlers:
                self._by_type[old.event_type] = (old, self.handlers[new], upcast)
        self._dead_letter_topic = dead_letter_topic(self.name).name
        self._redactor = Redactor(self.dead_letter_key)
        self._group = f"samspil-{self.name}"
        self._batch_by_type: dict[str, BatchHandler] = {}
        for event_type, (model, _, upcasting) in self._by_type.items():
            current = self.upcasts[model][0] if upcasting is not None else model
            if current in self.batch_handlers:
                self._batch_by_type[event_type] = self.batch_handlers[current]

    async def process_batch(self, records: Sequence[ConsumedRecord]) -> BatchProgress:
        """Handle a batch (records in partition order) and say which offsets may be committed.

        Records that cannot be read take the per-record path first (they are dead-lettered, each
        on its own); the others are handled in one transaction (:meth:`_handle_batch`). If that
        fails for any reason, it is rolled back and its records are taken one by one on the
        per-record path. An unexpected failure on the per-record path stops its partition at that
        record: nothing from it on is committed, and the caller reads the partition again from
        there, so no later commit passes the record by."""
        progress = BatchProgress()
        ready: list[_Ready] = []
        alone: list[ConsumedRecord] = []
        ignored: list[_Ready] = []
        for record in records:
            try:
                item = self._read(record)
            except Exception:
                item = None  # the per-record path meets it again, and deals with it
            if item is None:
                alone.append(record)
            elif item.handler is None:
                ignored.append(item)
            else:
                ready.append(item)
        if alone:
            # A record to dead-letter goes in its turn: the whole batch in order, one by one.
            # Dead-lettered ahead of the records before it, it would be written again (a record
            # without an event id is not recognised) when an earlier failure or a crash sends
            # the partition back, and its dead letter would come out of the citizen's order.
            # Rare (a record that cannot be read), so the batch's speed is not missed.
            alone, ready, ignored = list(records), [], []
        for record in alone:
            await self._process_alone(record, progress)
        tally: Counter[Outcome] = Counter()
        self._finish(ignored, [Outcome.IGNORED] * len(ignored), 0.0, tally)
        ready = [item for item in ready if not progress.stopped(item.record)]
        if ready:
            started = time.perf_counter()
            try:
                outcomes = await self._handle_batch(ready)
            except Exception as error:
                # Whatever it was (a poison record, a rejected command, the database away), the
                # batch is rolled back: each record now gets its own transaction and retries.
                # A handler's failure counts as that record's first attempt.
                failed = error if isinstance(error, _HandlerFailed) else None
                log.warning(
                    "batch failed, handling its records one by one",
                    records=len(ready),
                    error=type(failed.error if failed else error).__name__,
                )
                for item in ready:
                    earlier = failed.error if failed is not None and failed.record is item.record else None
                    await self._process_alone(item.record, progress, earlier)
            else:
                self._finish(ready, outcomes, (time.perf_counter() - started) / len(ready), tally)
        if tally[Outcome.PROCESSED] or tally[Outcome.DUPLICATE]:
            # One line per batch; each event's own line is at debug level (_finish).
            log.info(
                "batch handled",
                processed=tally[Outcome.PROCESSED],
                duplicates=tally[Outcome.DUPLICATE],
                ignored=tally[Outcome.IGNORED],
            )
        for record in records:
            progress.handled(record)
        return progress

    def _read(self, record: ConsumedRecord) -> _Ready | None:
        """The record's envelope, handler and validated data; None when it is to be
        dead-lettered (the per-record path does that, with its reason)."""
        headers: Headers = list(record.headers or ())
        try:
            envelope = decode_envelope(headers)
        except EnvelopeError:
            return None
        if envelope.type not in self.known_types:
            return None
        event_type = envelope.type
        if envelope.type not in self._by_type:
            if issubclass(self.known_types[envelope.type], CommandData):
                return None
            return _Ready(record, headers, envelope, event_type, None, None)
        model, handler, upcast = self._by_type[envelope.type]
        try:
            data = decode_data(model, record.value or b"")
            if upcast is not None:
                data = upcast(data)
        except ValueError:
            return None
        return _Ready(record, headers, envelope, event_type, handler, data)

    async def _process_alone(
        self, record: ConsumedRecord, progress: BatchProgress, earlier_failure: Exception | None = None
    ) -> None:
        if progress.stopped(record):
            return
        try:
            await self.process(record, earlier_failure)
        except Exception:
            # Never let a later commit skip this record: go back to it and try again.
            log.exception("unexpected consumer failure, redelivering", offset=record.offset)
            progress.stop_at(record)

    async def _handle_batch(self, ready: Sequence[_Ready]) -> list[Outcome]:
        """One transaction for the batch: the pending-dead-letter check and the inbox claims
        set-wise, then the claimed events' handlers in order. Raises on any failure (the
        transaction is then rolled back)."""
        outcomes: list[Outcome] = []
        async with self.pool.acquire() as conn, conn.transaction():
            if _recording():
                # Each event's statements in its own span, so they belong to its trace.
                for item in ready:
                    outcomes.append(await self._claim_and_handle(conn, item))
                return outcomes
            # One round trip: the events whose dead letter waits for replay are not claimed
            # (they are given again, and wait), the others are claimed in the inbox.
            rows = await conn.fetch(
                _PENDING_OR_CLAIM,
                self.name,
                [item.envelope.id for item in ready],
                [item.envelope.type for item in ready],
                [item.record.topic for item in ready],
            )
            pending = {row["event_id"] for row in rows if not row["claimed"]}
            claimed = {uuid.UUID(row["event_id"]) for row in rows if row["claimed"]}
            seen_again: list[uuid.UUID] = []
            to_handle: list[_Ready] = []
            for item in ready:
                if str(item.envelope.id) in pending:
                    outcomes.append(Outcome.SKIPPED)
                elif item.envelope.id in claimed:
                    claimed.discard(item.envelope.id)  # a second copy in the batch is a duplicate
                    outcomes.append(Outcome.PROCESSED)
                    to_handle.append(item)
                else:
                    outcomes.append(Outcome.DUPLICATE)
                    seen_again.append(item.envelope.id)
            if seen_again:
                # The broker that delivered them again may keep them for another full retention,
                # and their rows must outlive it (see retention.py).
                await conn.execute(
                    "UPDATE inbox SET last_seen_at = now()"
                    " WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                    self.name,
                    seen_again,
                )
            for run in self._runs(to_handle):
                if len(run) == 1:
                    try:
                        await self._handle_in_batch(conn, run[0])
                    except Exception as error:
                        raise _HandlerFailed(run[0].record, error) from error
                else:
                    await self._handle_run(conn, run)
        return outcomes

    async def _claim_and_handle(self, conn: Connection, item: _Ready) -> Outcome:
        """One event of a batch, the per-record way (its dead-letter check, inbox claim and
        handler) but in the batch's transaction, in its own span."""
        assert item.handler is not None and item.data is not None
        envelope = item.envelope
        with self._span(item.record, item.headers) as span:
            _describe(span, envelope, item.event_type)
            structlog.contextvars.bind_contextvars(
                event_id=str(envelope.id),
                event_type=envelope.type,
                correlation_id=str(envelope.correlationid),
            )
            try:
                if await conn.fetchval(_PENDING_DEAD_LETTER, self.name, str(envelope.id)):
                    outcome = Outcome.SKIPPED
                elif not await conn.fetchval(
                    _CLAIM, self.name, envelope.id, envelope.type, item.record.topic
                ):
                    await conn.execute(_SEEN_AGAIN, self.name, envelope.id)
                    outcome = Outcome.DUPLICATE
                else:
                    try:
                        await item.handler(conn, envelope, item.data)
                    except Exception as error:
                        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                        span.set_attribute("error.type", type(error).__name__)
                        raise _HandlerFailed(item.record, error) from error
                    outcome = Outcome.PROCESSED
            finally:
                structlog.contextvars.unbind_contextvars("event_id", "event_type", "correlation_id")
            shown = Outcome.DUPLICATE if outcome is Outcome.SKIPPED else outcome
            span.set_attribute("samspil.outcome", shown.value)
            return outcome

    def _runs(self, items: Sequence[_Ready]) -> list[list[_Ready]]:
        """The events in order, in runs of consecutive ones one batch handler takes together:
        only while no spans are recorded (each event's span then holds its own queries) and
        for events that carry the same trace context (the outbox rows keep it)."""
        if not self._batch_by_type or _recording():
            return [[item] for item in items]
        runs: list[list[_Ready]] = []
        for item in items:
            handler = self._batch_by_type.get(item.envelope.type)
            last = runs[-1][-1] if runs else None
            if (
                handler is not None
                and last is not None
                and self._batch_by_type.get(last.envelope.type) is handler
                and _trace_context_of(last.headers) == _trace_context_of(item.headers)
            ):
                runs[-1].append(item)
            else:
                runs.append([item])
        return runs

    async def _handle_run(self, conn: Connection, run: Sequence[_Ready]) -> None:
        handler = self._batch_by_type[run[0].envelope.type]
        # The run's trace context (one for all its events) is current for its outbox rows.
        with self._span(run[0].record, run[0].headers):
            await handler(conn, [(item.envelope, item.data) for item in run])

    async def _handle_in_batch(self, conn: Connection, item: _Ready) -> None:
        assert item.handler is not None and item.data is not None
        with self._span(item.record, item.headers) as span:
            _describe(span, item.envelope, item.event_type)
            structlog.contextvars.bind_contextvars(
                event_id=str(item.envelope.id),
                event_type=item.envelope.type,
                correlation_id=str(item.envelope.correlationid),
            )
            try:
                await item.handler(conn, item.envelope, item.data)
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.set_attribute("error.type", type(error).__name__)
                raise
            finally:
                structlog.contextvars.unbind_contextvars("event_id", "event_type", "correlation_id")
            span.set_attribute("samspil.outcome", Outcome.PROCESSED.value)

    def _finish(
        self, items: Sequence[_Ready], outcomes: Sequence[Outcome], seconds: float, tally: Counter[Outcome]
    ) -> None:
        """After the batch's transaction: what the per-record path measures for each event, and
        counted in ``tally`` for the batch's line. Each event's own line (its ids bound, as the
        per-record path logs it) is at debug level, except that an event given again while its
        dead letter waits for replay is said at info, as the per-record path says it."""
        each_event = _debug_enabled()
        now = datetime.now(UTC)
        for item, outcome in zip(items, outcomes, strict=True):
            envelope = item.envelope
            if outcome is Outcome.SKIPPED or (each_event and outcome is not Outcome.IGNORED):
                structlog.contextvars.bind_contextvars(
                    event_id=str(envelope.id),
                    event_type=envelope.type,
                    correlation_id=str(envelope.correlationid),
                )
                try:
                    if outcome is Outcome.PROCESSED:
                        log.debug("event processed")
                    elif outcome is Outcome.SKIPPED:
                        log.info("event already dead-lettered, skipped until replayed")
                    elif outcome is Outcome.DUPLICATE:
                        log.debug("duplicate event ignored")
                finally:
                    structlog.contextvars.unbind_contextvars("event_id", "event_type", "correlation_id")
            if outcome is Outcome.SKIPPED:
                outcome = Outcome.DUPLICATE
            tally[outcome] += 1
            if self.metrics is not None:
                event_type = envelope.type if envelope.type in self.known_types else "unknown"
                self.metrics.observe_event_age(event_type, (now - envelope.time).total_seconds())
                self.metrics.observe_handling(event_type, outcome.value, seconds)

    def _span(self, record: ConsumedRecord, headers: Headers) -> AbstractContextManager[Span]:
        """The record's span, current while it is handled: it continues the trace the record's
        headers carry, so what the handler puts in the outbox belongs to that trace."""
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.consumer.group.name": self._group,
        }
        return tracer().start_as_current_span(
            f"process {record.topic}",
            context=context_from_headers(headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,  # an error's text may quote the record
            set_status_on_exception=False,
        )

    async def process(self, record: ConsumedRecord, earlier_failure: Exception | None = None) -> Outcome:
        """Handle one record on its own: its own transaction, retries and dead letter.
        ``earlier_failure``: what its handler raised in its batch, which counts as its first
        attempt (the batch was rolled back)."""
        headers: Headers = list(record.headers or ())
        with self._span(record, headers) as span:
            try:
                outcome = await self._process(record, headers, earlier_failure)
            except Exception as error:
                # The type only: an error's text may quote the record.
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.set_attribute("error.type", type(error).__name__)
                raise
            span.set_attribute("samspil.outcome", outcome.value)
            if outcome is Outcome.DEAD_LETTERED:
                span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
            return outcome

    async def _process(
        self, record: ConsumedRecord, headers: Headers, earlier_failure: Exception | None
    ) -> Outcome:
        value = record.value or b""
        try:
            envelope = decode_envelope(headers)
        except EnvelopeError as error:
            return await self._dead_letter(record, None, DeadLetterReason.INVALID_ENVELOPE, str(error), 0)
        structlog.contextvars.bind_contextvars(
            event_id=str(envelope.id),
            event_type=envelope.type,
            correlation_id=str(envelope.correlationid),
        )
        # A type nobody declared is one label, so a sender cannot grow the label set.
        event_type = envelope.type if envelope.type in self.known_types else "unknown"
        _describe(trace.get_current_span(), envelope, event_type)
        started = time.perf_counter()
        if self.metrics is not None:
            self.metrics.observe_event_age(event_type, (datetime.now(UTC) - envelope.time).total_seconds())
        outcome = "failed"
        try:
            result = await self._process_event(record, envelope, value, earlier_failure)
            outcome = result.value
            return result
        finally:
            if self.metrics is not None:
                self.metrics.observe_handling(event_type, outcome, time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("event_id", "event_type", "correlation_id")

    async def _process_event(
        self, record: ConsumedRecord, envelope: Envelope, value: bytes, earlier_failure: Exception | None
    ) -> Outcome:
        if envelope.type not in self.known_types:
            return await self._dead_letter(
                record, envelope, DeadLetterReason.UNKNOWN_TYPE, f"unknown event type {envelope.type!r}", 0
            )
        if envelope.type not in self._by_type:
            if issubclass(self.known_types[envelope.type], CommandData):
                # Someone asked this service to act and it cannot yet: keep it for replay.
                return await self._dead_letter(
                    record,
                    envelope,
                    DeadLetterReason.UNSUPPORTED_COMMAND,
                    f"{envelope.type} is not handled here",
                    0,
                )
            return Outcome.IGNORED
        model, handler, upcast = self._by_type[envelope.type]
        try:
            data = decode_data(model, value)
            if upcast is not None:
                data = upcast(data)
        except ValueError as error:
            return await self._dead_letter(record, envelope, DeadLetterReason.INVALID_DATA, str(error), 0)

        attempts = 0
        transient_failures = 0
        failure = earlier_failure
        while True:
            if failure is None:
                try:
                    return await self._handle_once(handler, envelope, data, record.topic)
                except Exception as handler_error:
                    failure = handler_error
            problem, failure = failure, None
            if isinstance(problem, Rejected):
                # The command contradicts the state (stale version, unknown citizen): retrying
                # cannot help; its sender reads the reason on the dead-letter topic.
                return await self._dead_letter(
                    record, envelope, DeadLetterReason.REJECTED, problem.describe(), 1
                )
            if isinstance(problem, TRANSIENT_ERRORS):
                transient_failures += 1
                log.warning("database unavailable, will retry", error=repr(problem))
                await asyncio.sleep(self._backoff(transient_failures))
            else:
                attempts += 1
                if attempts >= self.max_attempts:
                    log.error("handler failed, giving up", attempts=attempts, error=repr(problem))
                    return await self._dead_letter(
                        record, envelope, DeadLetterReason.HANDLER_FAILED, repr(problem), attempts
                    )
                log.warning("handler failed, will retry", attempts=attempts, error=repr(problem))
                await asyncio.sleep(self._backoff(attempts))

    async def _handle_once(
        self, handler: EventHandler, envelope: Envelope, data: EventData, topic: str
    ) -> Outcome:
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(_PENDING_DEAD_LETTER, self.name, str(envelope.id)):
                # Given again (a replaced broker, a redelivery): it waits for the operator's
                # replay, and is not handled now (a rejected command might pass, out of turn).
                # Not so after a redacted dead letter: that one cannot be replayed, and its sender
                # is asked to send the event again without the CPR number, perhaps with its id.
                log.info("event already dead-lettered, skipped until replayed")
                return Outcome.DUPLICATE
            claimed = await conn.fetchval(_CLAIM, self.name, envelope.id, envelope.type, topic)
            if not claimed:
                # The broker that delivered it again may keep it for another full retention, and
                # the row must outlive it (see retention.py).
                await conn.execute(_SEEN_AGAIN, self.name, envelope.id)
                log.info("duplicate event ignored")
                return Outcome.DUPLICATE
            await handler(conn, envelope, data)
        log.info("event processed")
        return Outcome.PROCESSED

    async def _dead_letter(
        self,
        record: ConsumedRecord,
        envelope: Envelope | None,
        reason: DeadLetterReason,
        error: str,
        attempts: int,
    ) -> Outcome:
        received: Headers = [(name, value or b"") for name, value in record.headers or ()]
        # Whatever the reason, nothing kept here may hold a CPR number: not the value, the key,
        # a header (ce_* attributes included) nor the error, which may quote the input.
        redacted = self._redactor.redact(record.key, record.value or b"", received)
        original = redacted.headers
        paths = [safe_text(path) for path in redacted.paths]
        error = redact_text(safe_text(error))[:1500]
        if paths:
            shown = ", ".join(paths[:20]) + (f" and {len(paths) - 20} more" if len(paths) > 20 else "")
            error = f"{error} (CPR number redacted from {shown})"
        extra: Headers = [
            ("dlq_reason", reason.value.encode()),
            ("dlq_error", error.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_consumer", self.name.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            (REDACTED_HEADER, ",".join(paths).encode()),
        ]
        dead = Record(
            topic=self._dead_letter_topic,
            key=redacted.key,
            value=redacted.value,
            headers=original + extra,
        )
        # A record refused for its envelope still keeps its ce_id when that is an event id, so
        # an operator can find it by the id its sender knows.
        event_id = str(envelope.id) if envelope else _event_id_header(record.headers)
        event_type = envelope.type if envelope else None
        if event_type is not None and cpr_spans(event_type):
            event_type = self._redactor.marker("header.ce_type", event_type.encode())
        failures = 0
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    # Once per event until replayed (006_dead_letter_once.sql): a record
                    # dead-lettered already, by this or another member of the group, is not
                    # written or sent again.
                    inserted = await conn.fetchval(
                        "INSERT INTO dead_letter (consumer, topic, kafka_partition, kafka_offset,"
                        " record_key, header_names, header_values, payload, event_id, event_type,"
                        " reason, error, attempts, redacted)"
                        " SELECT $1::text, $2::text, $3::integer, $4::bigint, $5::bytea, $6::text[],"
                        " $7::bytea[], $8::bytea, $9::text, $10::text, $11::text, $12::text,"
                        " $13::integer, $14::text[]"
                        " WHERE $9::text IS NULL OR NOT EXISTS (SELECT 1 FROM dead_letter"
                        " WHERE consumer = $1 AND event_id = $9 AND replayed_at IS NULL)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        self.name,
                        record.topic,
                        record.partition,
                        record.offset,
                        redacted.key,
                        [safe_text(name) for name, _ in original],
                        [value for _, value in original],
                        redacted.value,
                        event_id,
                        event_type,
                        reason.value,
                        error,
                        attempts,
                        paths,
                    )
                    if inserted:
                        await add_record(conn, dead, event_id, "dead-letter")
                break
            except TRANSIENT_ERRORS as db_error:
                failures += 1
                log.warning("database unavailable for dead letter, will retry", error=repr(db_error))
                await asyncio.sleep(self._backoff(failures))
        if not inserted:
            log.info("event already dead-lettered, skipped until replayed")
            return Outcome.DUPLICATE
        if self.metrics is not None:
            self.metrics.count_dead_letter(reason.value)
        log.warning(
            "message dead-lettered",
            reason=reason.value,
            error=error[:300],
            redacted=paths,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        return Outcome.DEAD_LETTERED

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2))


_PENDING_DEAD_LETTER = (
    "SELECT EXISTS (SELECT 1 FROM dead_letter WHERE consumer = $1 AND event_id = $2"
    " AND replayed_at IS NULL AND cardinality(redacted) = 0)"
)
_CLAIM = (
    "INSERT INTO inbox (consumer, event_id, event_type, topic) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT DO NOTHING RETURNING true"
)
# A batch's pending-dead-letter check and inbox claims in one statement: the events whose dead
# letter waits for replay (claimed false), and those newly claimed (claimed true); any other was
# claimed before (a duplicate). A second copy of an event in the batch is claimed once.
_PENDING_OR_CLAIM = (
    "WITH pending AS (SELECT event_id FROM dead_letter WHERE consumer = $1"
    " AND event_id = ANY($2::uuid[]::text[]) AND replayed_at IS NULL AND cardinality(redacted) = 0),"
    " claimed AS (INSERT INTO inbox (consumer, event_id, event_type, topic)"
    " SELECT $1, claim.event_id, claim.event_type, claim.topic"
    " FROM unnest($2::uuid[], $3::text[], $4::text[]) AS claim(event_id, event_type, topic)"
    " WHERE claim.event_id::text NOT IN (SELECT event_id FROM pending)"
    " ON CONFLICT DO NOTHING RETURNING event_id)"
    " SELECT event_id::text AS event_id, true AS claimed FROM claimed"
    " UNION ALL SELECT event_id, false FROM pending"
)
_SEEN_AGAIN = "UPDATE inbox SET last_seen_at = now() WHERE consumer = $1 AND event_id = $2"


def _debug_enabled() -> bool:
    """Whether this module's debug lines are written (the level is read at each batch)."""
    return logging.getLogger("samspil.consumer").isEnabledFor(logging.DEBUG)


def _recording() -> bool:
    """Whether spans are recorded (a tracer provider is set up): then each event's statements
    run in its own span, so they belong to its trace."""
    return records_spans(tracer())


def _trace_context_of(headers: Headers) -> list[bytes | None]:
    return [value for name, value in headers if name in TRACE_HEADERS]


def _describe(span: Span, envelope: Envelope, event_type: str) -> None:
    span.set_attribute("messaging.message.id", str(envelope.id))
    span.set_attribute("cloudevents.event_id", str(envelope.id))
    span.set_attribute("cloudevents.event_type", event_type)


def _event_id_header(headers: Any) -> str | None:
    for name, value in headers or ():
        if name == "ce_id":
            try:
                return str(uuid.UUID((value or b"").decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                return None
    return None


async def commit_offsets(consumer: Any, offsets: Mapping[TopicPartition, int]) -> None:
    """Commit exactly these offsets (per partition, the next record to read), once the effect of
    everything below them is durable."""
    if offsets:
        await consumer.commit(dict(offsets))


def tolerant_headers(record: Any) -> Any:
    """FastStream decodes header values as UTF-8 before any handler runs, and silently skips a
    record whose headers it cannot decode (a later commit then passes it by). So hand it only
    headers it can read; our own code reads the original record."""

    def printable(value: bytes | None) -> bytes:
        if value is None:
            return b""
        try:
            value.decode("utf-8")
            return value
        except UnicodeDecodeError:
            return value.decode("utf-8", "backslashreplace").encode()

    return dataclasses.replace(record, headers=[(k, printable(v)) for k, v in record.headers or ()])
