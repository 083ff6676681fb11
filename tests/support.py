"""Helpers shared by the tests: realistic events and a look at what is on a topic."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from samspil.runtime.codec import Record, encode
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted, AbsenceReason, ContactAttempt, ContactChannel


def citizen_ref(seed: str | None = None) -> str:
    return "k1:" + hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()


def random_cpr(rng: random.Random | None = None) -> str:
    """A made-up CPR number with a real birth date (born 1940-1999), in DDMMYY-SSSS form. The
    sequence starts with 0-3 so the century is the 1900s; no check digit, as since 2007."""
    rng = rng or random.Random()
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    return f"{born:%d%m%y}-{rng.randrange(4)}{rng.randrange(1000):03d}"


def absence_notice(
    subject: str | None = None, provider_id: str = "aktivcenter-nord"
) -> tuple[Envelope, AbsenceNoticeSubmitted]:
    notice = AbsenceNoticeSubmitted(
        submission_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        provider_id=provider_id,
        absent_from=date(2026, 11, 16),
        reason=AbsenceReason.ILLNESS,
        contact_attempts=[ContactAttempt(on=date(2026, 11, 17), channel=ContactChannel.PHONE)],
        comment="Not seen since Monday; phone unanswered.",
    )
    envelope = Envelope(
        source="/samspil/provider-gateway",
        type=notice.event_type,
        subject=subject or citizen_ref(),
        dataschema=notice.dataschema,
        correlationid=notice.submission_id,
    )
    return envelope, notice


async def produce(bootstrap_servers: str, *records: Record, together: bool = False) -> list[tuple[int, int]]:
    """Produce in order; returns each record's (partition, offset). ``together``: the records of a
    partition go as one record batch (sent at once, gathered by the producer's linger), so a
    consumer's fetch brings them all or none; else each is sent once the one before it is stored."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=500 if together else 0,
        max_batch_size=1024 * 1024,
    )
    await producer.start()
    placed = []
    try:
        if together:
            futures = [
                await producer.send(record.topic, record.value, key=record.key, headers=record.headers)
                for record in records
            ]
            placed = [((sent := await future).partition, sent.offset) for future in futures]
        else:
            for record in records:
                sent = await producer.send_and_wait(
                    record.topic, record.value, key=record.key, headers=record.headers
                )
                placed.append((sent.partition, sent.offset))
    finally:
        await producer.stop()
    return placed


def encoded_notice(subject: str | None = None) -> tuple[Envelope, Record]:
    envelope, notice = absence_notice(subject)
    return envelope, encode(envelope, notice)


async def read_topic(
    bootstrap_servers: str, topic: str, *, timeout: float = 60.0
) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """Everything on a topic from the beginning up to its end as the call starts, read by a
    throwaway consumer (no group). It reads on until each partition's end offset is reached: a
    read that stopped at the first quiet fetch would miss records when a loaded machine answers
    late."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
    try:
        await consumer.topics()  # the cluster's metadata, so the topic's partitions are known
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return records  # no such topic (yet): nothing on it
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout
        while unread := [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: not read to its end ({ends}) within {timeout} s")
            batch = await consumer.getmany(*unread, timeout_ms=1000)
            for tp in unread:
                records.extend((m.key, m.value or b"", list(m.headers)) for m in batch.get(tp, []))
    finally:
        await consumer.stop()
    return records


async def wait_for(
    predicate: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.2
) -> Any:
    """Poll an async predicate until it returns something truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last result: {result!r})")
        await asyncio.sleep(interval)


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample on the page by its name (``_total``, ``_count``, ... included)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(page: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matching = [v for found, v in page.get(name, []) if labels.items() <= found.items()]
    assert len(matching) == 1, f"{name}{labels}: {matching}"
    return matching[0]


def prometheus_tool(name: str) -> str:
    """The path of a program from Debian's ``prometheus`` package (``prometheus``, ``promtool``):
    missing is a failure under CI, which `make test` installs it for, and a skip elsewhere."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is missing: `make test` installs it (apt-get install prometheus)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus; `make test` does it)")
    return found


async def write_absence_notices(gateway_url: str, count: int, pause: float = 0.0) -> list[uuid.UUID]:
    """Absence notices written to the gateway's outbox as its API does (each in its own
    transaction, ``pause`` seconds apart); their event ids."""
    from samspil.runtime.outbox import add_event

    ids = []
    gateway = await asyncpg.connect(gateway_url)
    try:
        for _ in range(count):
            envelope, notice = absence_notice()
            async with gateway.transaction():
                await add_event(gateway, envelope, notice)
            ids.append(envelope.id)
            await asyncio.sleep(pause)
    finally:
        await gateway.close()
    return ids


class WebhookReceiver:
    """A provider's webhook receiver, a real HTTP server on this machine: answers each request as
    scripted, "fail" (500), "hang" (no answer until the test ends) or "ok" (204, also when the
    script has run out), and keeps every request with its answer."""

    def __init__(self, port: int) -> None:
        self.script: list[str] = []
        self.requests: list[tuple[dict[str, str], bytes, str]] = []  # headers, body, answer
        self.release = asyncio.Event()
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        answer = self.script.pop(0) if self.script else "ok"
        self.requests.append((headers, body, answer))
        if answer == "hang":
            await self.release.wait()
        status = 500 if answer == "fail" else 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        """The requests answered 2xx, in the order they came."""
        return [(headers, body) for headers, body, answer in self.requests if answer == "ok"]


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    receiver = WebhookReceiver(listener.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(receiver, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))

    async def started() -> bool:
        return server.started

    await wait_for(started, timeout=10, interval=0.01)
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
