"""Helpers shared by the tests: realistic events and a look at what is on a topic."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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


async def produce(bootstrap_servers: str, *records: Record) -> list[tuple[int, int]]:
    """Produce in order; returns each record's (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=False)
    await producer.start()
    placed = []
    try:
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
    bootstrap_servers: str, topic: str, *, settle: float = 2.0
) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """Everything on a topic from the beginning, read by a throwaway consumer (no group)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(settle * 1000))
            if not batch:
                break
            for messages in batch.values():
                records.extend((m.key, m.value or b"", list(m.headers)) for m in messages)
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
