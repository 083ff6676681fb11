"""Transactional outbox and its relay.

A handler calls :func:`add_event` on the connection of its own transaction, so the event is
stored if and only if the state change is. The relay publishes stored rows in order, with the
citizen reference as the Kafka key, retries with backoff until the broker takes them, and marks
them published. A relay that dies between publishing and marking publishes again on restart;
consumers deduplicate by event id, so the effect happens once. Published rows are kept for their
topic's retention and then purged by the service's scheduler (retention.py).

Each row keeps the W3C trace context current when it was written (the request's or the handled
event's span). The relay publishes the row in a span that continues that context and writes the
span's context into the record's ``ce_traceparent``/``ce_tracestate`` headers, so the consumer
continues the same trace (tracing.py); with no tracing set up, no span is made and the stored
context goes into the headers as it is.

The relay drains a backlog in batches (``batch_size`` rows, OUTBOX_BATCH_SIZE): one query
fetches a batch, the sender publishes it (KafkaSender.send_all: per-partition record batches),
one statement marks what the broker acknowledged, and while a full batch is being sent the next
is fetched. Asleep, it wakes on the outbox's notification (LISTEN/NOTIFY; the trigger sends it
at commit) and looks anyway every ``poll_interval`` seconds. Awake, it looks by itself every
``busy_poll`` seconds and writers do not notify: a NOTIFY holds a cluster-wide lock through its
transaction's commit, which made every notifying commit of every service wait for the one before
(migration 012). It falls asleep after ``stay_awake`` seconds without a row, and only when no
writer that saw it awake (and so did not notify) is still uncommitted: each writer holds the
"writing" lock shared from its insert to its commit, and the relay goes to sleep only when it
can take that lock itself; then it looks once more, and sleeps. The relay waits for the awake
lock only briefly: a writer that took it shared (it saw the relay asleep, and notifies) may
commit long after; meanwhile the relay looks by itself without it, and writers notify.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

import asyncpg
import structlog
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context

from samspil.runtime.codec import Record, encode, safe_text
from samspil.runtime.db import Connection
from samspil.runtime.kafka import PERMANENT_ERRORS
from samspil.runtime.tracing import (
    TRACE_HEADERS,
    context_from,
    current_trace_context,
    records_spans,
    tracer,
    with_trace_headers,
)
from schemas.base import EventData
from schemas.envelope import Envelope

log = structlog.get_logger("samspil.outbox")

NOTIFY_CHANNEL = "samspil_outbox"
# One relay publishes at a time per database, so per-key order holds with several replicas.
_LEADER_LOCK = 7_310_002
# Held shared by every outbox writer from its insert to its commit (migration 012).
_WRITING_LOCK = 7_310_021
# Held by the leading relay while it is awake; a writer that cannot take it shared does not notify.
_AWAKE_LOCK = 7_310_022
# How long the relay waits for the awake lock before it looks by itself without it (see
# OutboxRelay._take_awake_lock): rows committed meanwhile wait at most this long for the look.
_AWAKE_LOCK_WAIT = "20ms"
_AWAIT_AWAKE_LOCK = f"SET LOCAL lock_timeout = '{_AWAKE_LOCK_WAIT}'; SELECT pg_advisory_lock({_AWAKE_LOCK})"


class RecordSender(Protocol):
    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        """Send every record; return, per record, None when the broker acknowledged it."""
        ...


async def add_event(conn: Connection, envelope: Envelope, data: EventData, topic: str | None = None) -> None:
    """Store an event in the outbox, inside the caller's transaction."""
    if envelope.type != data.event_type:
        raise ValueError(f"envelope type {envelope.type!r} does not match {data.event_type!r}")
    await add_record(conn, encode(envelope, data, topic), str(envelope.id), envelope.type)


def outbox_columns(envelope: Envelope, data: EventData) -> tuple[Any, ...]:
    """The outbox columns :func:`add_event` stores for this event (in the order of
    ``OUTBOX_COLUMNS``), with the current trace context: for a writer that inserts the row in a
    statement of its own (the gateway's report, written in one statement)."""
    traceparent, tracestate = current_trace_context()
    return _row(encode(envelope, data), str(envelope.id), envelope.type, traceparent, tracestate)


async def add_record(conn: Connection, record: Record, event_id: str | None, event_type: str) -> None:
    """Store a raw record (an event, a dead letter, a replay); a raw one may lack an event id.
    The current trace context is stored with it, for the relay to continue. One round trip: the
    outbox's trigger wakes the relay at commit (migration 008)."""
    traceparent, tracestate = current_trace_context()
    await conn.execute(_INSERT, *_row(record, event_id, event_type, traceparent, tracestate))


async def add_records(conn: Connection, items: Iterable[tuple[Record, str | None, str]]) -> None:
    """Store many raw records, each with its event id and type, in the order given, in one
    COPY, with the current trace context, as :func:`add_record` stores one (the outbox's trigger
    fires for a COPY too: one wake-up)."""
    traceparent, tracestate = current_trace_context()
    rows = [
        _row(record, event_id, event_type, traceparent, tracestate) for record, event_id, event_type in items
    ]
    if rows:
        # COPY takes half the server's time of a pipelined INSERT per row.
        await conn.copy_records_to_table("outbox", records=rows, columns=OUTBOX_COLUMNS)


async def add_events(conn: Connection, events: Sequence[tuple[Envelope, EventData]], topic: str) -> None:
    """Store many events in the outbox, inside the caller's transaction, in the order given:
    the same rows as :func:`add_event` for each, in one COPY."""
    records = []
    for envelope, data in events:
        if envelope.type != data.event_type:
            raise ValueError(f"envelope type {envelope.type!r} does not match {data.event_type!r}")
        records.append((encode(envelope, data, topic), str(envelope.id), envelope.type))
    await add_records(conn, records)


OUTBOX_COLUMNS = [
    "event_id",
    "event_type",
    "topic",
    "record_key",
    "header_names",
    "header_values",
    "payload",
    "traceparent",
    "tracestate",
]


_INSERT = f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"


def _row(
    record: Record, event_id: str | None, event_type: str, traceparent: str | None, tracestate: str | None
) -> tuple[Any, ...]:
    return (
        event_id,
        event_type,
        record.topic,
        record.key,
        # Kafka allows any header name; PostgreSQL text does not take NUL (only broken senders
        # use it, and only dead letters carry their headers on).
        [safe_text(name) for name, _ in record.headers],
        [value for _, value in record.headers],
        record.value,
        traceparent,
        tracestate,
    )


# How long the broker's answer to "who are you" stays good while the relay drains a backlog in
# full batches, one straight after another. Before any other batch the relay asks again unless
# its producer still holds the very connections open when it last asked (a broker replaced at
# its address closes them), and after a failed send, so nothing goes to a broker that replaced
# the old one before the retained rows are pending again. Not covered: aiokafka sends a batch
# again on a new connection when its connection drops, so a batch in flight while the broker is
# replaced, or one sent on a connection left half-open by a host that died, may reach the new
# broker first (a cluster rebuilt empty at the same address).
_IDENTITY_FRESH_SECONDS = 1.0


class OutboxRelay:
    """Publishes outbox rows. Safe with several replicas: only the holder of a session advisory
    lock publishes; the others wait to take over if it dies."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: RecordSender,
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        busy_poll: float = 0.005,
        stay_awake: float = 0.25,
        broker_epoch: str | None = None,
        broker_identity: Callable[[], Awaitable[str | None]] | None = None,
        broker_connections: Callable[[], tuple[object, ...] | None] | None = None,
    ) -> None:
        """``broker_identity``: asks the broker who it is (its cluster id), None when it cannot
        be reached. Asked before each batch, except within ``_IDENTITY_FRESH_SECONDS`` of the
        last answer in a run of full batches with no failed send, or when
        ``broker_connections`` (the sender's open connections) are the very ones open when it
        was last asked, so nothing is published to a broker that replaced the one the rows went to until
        the retained rows are pending again. ``busy_poll``, ``stay_awake``: see the module's
        text."""
        self._pool = pool
        self._sender = sender
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._busy_poll = busy_poll
        self._stay_awake = stay_awake
        self._broker_epoch = broker_epoch
        self._broker_identity = broker_identity
        self._broker_connections = broker_connections
        self._wakeup = asyncio.Event()
        self._stopping = False
        self.is_leader = False

    async def run(self) -> None:
        """Run until :meth:`stop`: take the lead when free, then publish as rows arrive."""
        while not self._stopping:
            try:
                async with self._pool.acquire() as leader_conn:
                    if not await leader_conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
                        await self._sleep(self._poll_interval * 2)
                        continue
                    try:
                        await self._lead(leader_conn)
                    finally:
                        self.is_leader = False
                        if not leader_conn.is_closed():
                            await leader_conn.execute("SELECT pg_advisory_unlock($1)", _LEADER_LOCK)
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
            ) as error:
                log.warning("outbox relay lost the database, retrying", error=str(error))
                await self._sleep(self._poll_interval)

    async def _lead(self, leader_conn: Connection) -> None:
        self.is_leader = True
        await self._check_broker_epoch()
        known = await leader_conn.fetchval("SELECT value FROM relay_state WHERE name = 'broker_cluster_id'")
        await leader_conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        log.info("outbox relay leads")
        failures = 0
        checked_at: float | None = None  # when the broker last said who it is; None: ask now
        connected_at_check: tuple[object, ...] | None = None  # the connections open as it was asked
        next_rows: list[Any] | None = None  # the next batch, fetched while the last was sent
        loop = asyncio.get_running_loop()
        awake = False  # holding _AWAKE_LOCK: writers do not notify
        ask_broker = True  # asleep, it asks every poll_interval, rows or not
        last_rows_at = loop.time()

        async def same_broker() -> bool:
            """Whether rows may go to the broker now: False when it cannot be reached, or when
            it is not the one the published rows went to (then every retained row is pending
            again, and comes first)."""
            nonlocal checked_at, connected_at_check, known
            if self._broker_identity is None:
                return True
            if checked_at is not None and loop.time() - checked_at < _IDENTITY_FRESH_SECONDS:
                return True
            now_connected = self._broker_connections() if self._broker_connections else None
            if now_connected is not None and _same(now_connected, connected_at_check):
                # No connection made again since the broker said who it is: the same broker
                # process (a metadata request before every small batch of a steady flow cost
                # the broker more than the batch).
                checked_at = loop.time()
                return True
            # Read before asking: only a connection open before the question vouches for the
            # answer (one made meanwhile may be to a broker that replaced the one answering).
            asked_on = now_connected
            current = await self._broker_identity()
            if current is None:
                # Unreachable (the service logs that once per interval): try again soon, but
                # not on every notification.
                await asyncio.sleep(self._poll_interval)
                return False
            checked_at = loop.time()
            connected_at_check = asked_on
            if current != known:
                await self._follow_broker(leader_conn, known, current)
                known = current
                return False
            return True

        try:
            while not self._stopping:
                self._wakeup.clear()
                if not awake:
                    awake = await self._take_awake_lock(leader_conn)
                if ask_broker:
                    ask_broker = False
                    if not await same_broker():
                        next_rows = None
                        continue
                # On the lock's own connection: if that session is lost, the lock is gone, and
                # so is this relay's right to publish; the batch fails instead of doubling up.
                rows = next_rows if next_rows is not None else await self._pending(leader_conn)
                next_rows = None
                if not rows:
                    checked_at = None  # caught up: the next batch may come after a while
                    if loop.time() - last_rows_at < self._stay_awake:
                        await asyncio.sleep(self._busy_poll)
                        continue
                    if awake:
                        await leader_conn.execute("SELECT pg_advisory_unlock($1)", _AWAKE_LOCK)
                        awake = False  # writers notify from now on
                    if not await self._quiet(leader_conn):
                        # Still awake: the lock again at once, so that writers do not notify
                        # meanwhile (when taken shared by one, the next look waits for it).
                        awake = await leader_conn.fetchval("SELECT pg_try_advisory_lock($1)", _AWAKE_LOCK)
                        await asyncio.sleep(self._busy_poll)
                        continue
                    # Every writer that did not notify has committed: one more look, then sleep.
                    if not await self._pending(leader_conn):
                        await self._sleep(self._poll_interval)
                    ask_broker = True
                    continue
                if not await same_broker():
                    continue  # the retained rows come first now, or the broker is away
                last_rows_at = loop.time()
                # A full batch: more are likely waiting, fetched while this one is sent.
                published, failed, next_rows = await self._publish(
                    leader_conn, rows, fetch_next=len(rows) >= self._batch_size
                )
                if failed:
                    checked_at = None  # a failed send may be a broker going away: ask first
                    connected_at_check = None
                    failures += 1
                    await self._sleep(_backoff(failures))
                    continue
                failures = 0
                if published < self._batch_size:
                    checked_at = None  # caught up: the next batch may come after a while
                    await asyncio.sleep(self._busy_poll)
            # Still holding the lead: publish what the service wrote while it was stopping.
            await self.drain(leader_conn, timeout=5.0)
        finally:
            if not leader_conn.is_closed():
                await leader_conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                if awake:
                    await leader_conn.execute("SELECT pg_advisory_unlock($1)", _AWAKE_LOCK)

    async def _take_awake_lock(self, conn: Connection) -> bool:
        """Take the awake lock: writers stop notifying. Waited for only briefly: a writer that
        saw the relay asleep holds it shared until its commit, which may come long after its
        insert, and meanwhile the other writers' rows would wait with it. Not taken, the relay
        looks by itself all the same and the writers notify, as while it sleeps; it tries again
        on its next look. It is waited for at all (not only tried) because the writers of a
        steady flow overlap, one always holding it shared: while the relay waits, no writer
        takes it (a lock waited for goes first), so those holding it commit and it is free."""
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _AWAKE_LOCK):
            return True
        try:
            # One round trip: the statements of one query run in one transaction, so the
            # timeout is this wait's only (the lock is the session's, kept after it).
            await conn.execute(_AWAIT_AWAKE_LOCK)
        except asyncpg.LockNotAvailableError:
            return False
        return True

    async def _quiet(self, conn: Connection) -> bool:
        """Whether the relay may sleep, the awake lock let go: False while a writer that may
        have seen it awake has not committed (it holds the writing lock shared), since that
        writer's rows would come with no notification."""
        quiet: bool = await conn.fetchval(
            "SELECT CASE WHEN pg_try_advisory_lock($1) THEN pg_advisory_unlock($1) ELSE false END",
            _WRITING_LOCK,
        )
        return quiet

    async def publish_batch(self, conn: Connection | None = None) -> tuple[int, int]:
        """Publish the oldest pending rows once. Returns (published, failed)."""
        if conn is None:
            async with self._pool.acquire() as pooled:
                return await self.publish_batch(pooled)
        rows = await self._pending(conn)
        if not rows:
            return 0, 0
        published, failed, _ = await self._publish(conn, rows, fetch_next=False)
        return published, failed

    async def _pending(self, conn: Connection, sending: Sequence[Any] = ()) -> list[Any]:
        """The oldest pending rows, except exactly those being sent (``sending``): a row committed
        late with a seq among theirs (a gap when they were fetched) still comes first, before any
        later row of its key."""
        if not sending:
            return await conn.fetch(_PENDING + " ORDER BY seq LIMIT $1", self._batch_size)
        return await conn.fetch(
            _PENDING + " AND seq <> ALL($2::bigint[]) ORDER BY seq LIMIT $1",
            self._batch_size,
            [row["seq"] for row in sending],
        )

    async def _publish(
        self, conn: Connection, rows: Sequence[Any], *, fetch_next: bool
    ) -> tuple[int, int, list[Any] | None]:
        """Send the rows, mark what the broker took (one statement each for the published, the
        parked and the failed), and return (published, failed, the next batch). With
        ``fetch_next`` the next batch is fetched on ``conn`` while these are sent; it is
        returned only when none of these failed (a failure holds the key's later rows back, and
        may be a broker going away)."""
        traced = records_spans(tracer())
        spans: list[Span | None] = []
        records = []
        for row in rows:
            span, headers = _publish_span(row) if traced else (None, _stored_headers(row))
            spans.append(span)
            records.append(
                Record(topic=row["topic"], key=row["record_key"], value=row["payload"], headers=headers)
            )
        sending = asyncio.ensure_future(self._sender.send_all(records))
        try:
            next_rows = await self._pending(conn, rows) if fetch_next else None
        except BaseException:
            sending.cancel()  # queued records may still go: they stay pending, and are sent again
            sending.add_done_callback(_retrieved)
            _end_spans(spans, [None] * len(spans))
            raise
        try:
            results = await sending
        except asyncio.CancelledError:
            # Stopped, not failed: the rows stay pending for the next leader.
            _end_spans(spans, [None] * len(spans))
            raise
        except BaseException as error:
            _end_spans(spans, [error] * len(spans))
            raise
        _end_spans(spans, results)
        done: list[int] = []
        failed: list[tuple[int, str]] = []
        parked: list[tuple[int, str]] = []
        for row, outcome in zip(rows, results, strict=True):
            if outcome is None:
                done.append(row["seq"])
            elif isinstance(outcome, PERMANENT_ERRORS):
                parked.append((row["seq"], repr(outcome)[:500]))
            else:
                failed.append((row["seq"], repr(outcome)[:500]))
        await self._mark_published(conn, done)
        if parked:
            await _record_errors(conn, parked, park=True)
            log.error(
                "outbox records parked: the broker can never take them", seqs=[seq for seq, _ in parked]
            )
        if failed:
            await _record_errors(conn, failed, park=False)
            log.warning(
                "outbox publish failed, will retry",
                failed=len(failed),
                published=len(done),
                error=failed[0][1],
            )
            next_rows = None
        return len(done), len(failed), next_rows

    async def _mark_published(self, conn: Connection, seqs: list[int]) -> None:
        if seqs:
            # Sent as text, so planned for these rows each time: a prepared statement's generic plan,
            # made while the outbox of a new database was empty and never analysed, reads the whole
            # table (and keeps doing so as it grows) until autovacuum first analyses it. The seqs
            # are the table's own bigints.
            listed = ",".join(str(int(seq)) for seq in seqs)
            await conn.execute(
                f"UPDATE outbox SET published_at = now() WHERE seq = ANY('{{{listed}}}'::bigint[])"
            )

    async def drain(self, conn: Connection, timeout: float = 10.0) -> bool:
        """Publish until nothing is pending (used at shutdown). True when empty."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            published, failed = await self.publish_batch(conn)
            if published == 0 and failed == 0:
                return True
            if failed:
                await asyncio.sleep(0.2)
        return False

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def _check_broker_epoch(self) -> None:
        """An embedded broker keeps topics in memory only. When the runner starts a new one it
        passes a new epoch; then every retained row is published again, and consumers, which
        deduplicate, pick up whatever the old broker forgot."""
        if self._broker_epoch is None:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            known = await conn.fetchval("SELECT value FROM relay_state WHERE name = 'broker_epoch'")
            if known == self._broker_epoch:
                return
            if known is not None:
                status = await conn.execute(
                    "UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL"
                )
                log.info("broker restarted, publishing retained events again", rows=status)
            await conn.execute(
                "INSERT INTO relay_state (name, value) VALUES ('broker_epoch', $1)"
                " ON CONFLICT (name) DO UPDATE SET value = $1, updated_at = now()",
                self._broker_epoch,
            )

    async def _follow_broker(self, conn: Connection, known: str | None, current: str) -> None:
        """The broker is not the one the published rows went to (its cluster id changed: the
        embedded broker after a restart, or a cluster rebuilt empty): whatever it had not yet
        delivered is gone with it, so every retained row is published again, in order, and the
        consumers deduplicate."""
        async with conn.transaction():
            if known is not None:
                status = await conn.execute(
                    "UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL"
                )
                log.warning(
                    "the broker was replaced, publishing retained events again",
                    rows=int(status.split()[-1]),
                )
            await conn.execute(
                "INSERT INTO relay_state (name, value) VALUES ('broker_cluster_id', $1)"
                " ON CONFLICT (name) DO UPDATE SET value = $1, updated_at = now()",
                current,
            )

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        except TimeoutError:
            pass


_PENDING = (
    "SELECT seq, event_id, event_type, topic, record_key, header_names, header_values, payload,"
    " traceparent, tracestate FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
)


async def _record_errors(conn: Connection, errors: list[tuple[int, str]], *, park: bool) -> None:
    """Count a failed attempt on each row, with its error, in one statement; ``park``: and set
    the rows aside for good."""
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = failure.error"
        + (", parked_at = now()" if park else "")
        + " FROM unnest($1::bigint[], $2::text[]) AS failure(seq, error) WHERE outbox.seq = failure.seq",
        [seq for seq, _ in errors],
        [error for _, error in errors],
    )


def _stored_headers(row: Any) -> list[tuple[str, bytes]]:
    """The row's headers for its record while tracing is off: its stored trace context goes on
    as it is, which is what continuing it in a span that records nothing would write (the
    context was written by the same CPR-safe propagator, current_trace_context). A row written
    outside any trace keeps its headers as stored."""
    traceparent = row["traceparent"]
    if not traceparent:
        return list(zip(row["header_names"], row["header_values"], strict=True))
    headers = [
        header
        for header in zip(row["header_names"], row["header_values"], strict=True)
        if header[0] not in TRACE_HEADERS
    ]
    headers.append((TRACE_HEADERS[0], traceparent.encode()))
    if row["tracestate"]:
        headers.append((TRACE_HEADERS[1], row["tracestate"].encode()))
    return headers


def _publish_span(row: Any) -> tuple[Span | None, list[tuple[str, bytes]]]:
    """For a row written in a trace: the span that publishes it, continuing the stored context,
    and the row's headers carrying that span's context. A row written outside any trace keeps
    its headers as stored (a replayed dead letter, for one, carries its original trace on)."""
    headers = list(zip(row["header_names"], row["header_values"], strict=True))
    if not row["traceparent"]:
        return None, headers
    topic = row["topic"]
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": topic,
        "samspil.outbox.seq": row["seq"],
    }
    if row["event_id"]:
        attributes["messaging.message.id"] = str(row["event_id"])
        attributes["cloudevents.event_id"] = str(row["event_id"])
    if row["event_type"]:
        attributes["cloudevents.event_type"] = row["event_type"]
    span = tracer().start_span(
        f"publish {topic}",
        context=context_from(row["traceparent"], row["tracestate"]),
        kind=SpanKind.PRODUCER,
        attributes=attributes,
    )
    return span, with_trace_headers(headers, set_span_in_context(span))


def _end_spans(spans: Sequence[Span | None], results: Sequence[BaseException | None]) -> None:
    for span, error in zip(spans, results, strict=True):
        if span is None:
            continue
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.set_attribute("error.type", type(error).__name__)
        span.end()


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A send given up on: its outcome is not wanted (the rows stay pending), nor logged as an
    exception never retrieved."""
    if not task.cancelled():
        task.exception()


def _same(now: tuple[object, ...], before: tuple[object, ...] | None) -> bool:
    """Whether the sender still holds the very connections open when the broker was last asked.
    None open (then or now) proves nothing: the answer came on a connection made for it, and the
    next send connects to whatever listens there now."""
    if not now or not before or len(now) != len(before):
        return False
    return all(a is b for a, b in zip(now, before, strict=True))


def _backoff(failures: int) -> float:
    return float(min(30.0, 0.2 * 2 ** min(failures, 8)) * random.uniform(0.8, 1.2))
