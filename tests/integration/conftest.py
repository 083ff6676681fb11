from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from pydantic import AliasChoices

from samspil.runtime.codec import Record
from samspil.runtime.consumer import EventHandler
from samspil.runtime.db import Connection, create_pool, migrate
from samspil.runtime.kafka import ensure_topics
from samspil.runtime.service import ServiceRuntime, Subscription
from samspil.runtime.settings import RuntimeSettings
from schemas.base import EventData
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.topics import PROVIDER_REPORTS, Topic, dead_letter_topic
from tests.infra import Infra

EFFECT_TABLE = "CREATE TABLE IF NOT EXISTS effect (event_id uuid NOT NULL, citizen_ref text NOT NULL)"


async def record_effect(conn: Connection, envelope: Envelope, _: Any) -> None:
    """A handler whose every run leaves a row, so a doubled effect would show."""
    await conn.execute(
        "INSERT INTO effect (event_id, citizen_ref) VALUES ($1, $2)", envelope.id, envelope.subject
    )


def runtime_settings(infra: Infra, database_url: str, **overrides: Any) -> RuntimeSettings:
    """The runtime's settings for a test, with ``overrides`` by the names the settings read (a
    field with an environment name is set by that name, lower-cased: ``samspil_broker_check_seconds``);
    any other name fails here, since the settings would silently ignore it."""
    unknown = set(overrides) - _settings_names()
    if unknown:
        raise TypeError(f"RuntimeSettings reads no {sorted(unknown)}; use {sorted(_settings_names())}")
    values: dict[str, Any] = {key.lower(): value for key, value in infra.client_env.items()}
    values.update(
        database_url=database_url,
        kafka_create_topics=False,
        consumer_backoff_seconds=0.05,
        outbox_poll_seconds=0.2,
        dead_letter_key=DEAD_LETTER_KEY,
        **overrides,
    )
    return RuntimeSettings(**values)


def _settings_names() -> set[str]:
    names: set[str] = set()
    for name, field in RuntimeSettings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.lower() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.lower())
        else:
            names.add(name)
    return names


DEAD_LETTER_KEY = "test-dead-letter-key-" + "k" * 32

RuntimeFactory = Callable[..., contextlib.AbstractAsyncContextManager[ServiceRuntime]]


@pytest.fixture
def consumer_runtime(infra: Infra) -> RuntimeFactory:
    """Start a service runtime with its own database and consumer group that records an
    effect per absence notice; ``handler`` may be swapped for a failing one."""

    @contextlib.asynccontextmanager
    async def start(
        handler: Any = record_effect,
        database_url: str | None = None,
        topics: tuple[Topic, ...] = (PROVIDER_REPORTS,),
        handlers: Mapping[type[EventData], EventHandler] | None = None,
        **overrides: Any,
    ) -> AsyncIterator[ServiceRuntime]:
        name = f"test-{uuid.uuid4().hex[:8]}"
        await ensure_topics(infra.bootstrap_servers, [dead_letter_topic(name)])
        url = database_url or infra.create_database()
        conn = await asyncpg.connect(url)
        await conn.execute(EFFECT_TABLE)
        await conn.close()
        runtime = ServiceRuntime(
            name=name,
            settings=runtime_settings(infra, url, **overrides),
            migration_packages=[],
            subscription=Subscription(
                topics=list(topics), handlers=handlers or {AbsenceNoticeSubmitted: handler}
            ),
        )
        async with runtime.running():
            yield runtime

    return start


OwnTopic = Callable[..., Awaitable[Topic]]


@pytest.fixture
def own_topic(infra: Infra) -> OwnTopic:
    """Creates a copy of a catalogue topic that only this test writes to (on one partition unless
    told), so that what a consumer of it fetches is the test's records alone. The catalogue's
    topics are shared by every test on the broker (all files of an xdist worker): a new consumer
    group reads everything earlier tests left there, and a batch holding one unreadable record
    goes one by one, each record committed on its own."""

    async def create(topic: Topic, partitions: int = 1) -> Topic:
        name = f"samspil.test-{uuid.uuid4().hex[:8]}.{topic.name.removeprefix('samspil.')}"
        own = dataclasses.replace(topic, name=name, partitions=partitions)
        await ensure_topics(infra.bootstrap_servers, [own])
        return own

    return create


@pytest.fixture
async def own_reports_topic(own_topic: OwnTopic) -> Topic:
    """A copy of the providers' reports topic that only this test writes to, on one partition."""
    return await own_topic(PROVIDER_REPORTS)


def on_topic(topic: Topic, *records: Record) -> list[Record]:
    """The records, bound for ``topic`` instead."""
    return [dataclasses.replace(record, topic=topic.name) for record in records]


@pytest.fixture
def employment_url(infra: Infra) -> str:
    """A new database with nothing in it, named like the employment service's."""
    return infra.create_database("employment")


@pytest.fixture
async def employment_db(employment_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The employment service's database, migrated as the service does at start-up."""
    async with _migrated(employment_url, "employment.migrations") as pool:
        yield pool


@pytest.fixture
async def social_db(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """The social service's database, migrated as the service does at start-up."""
    async with _migrated(infra.create_database("social"), "social.migrations") as pool:
        yield pool


@contextlib.asynccontextmanager
async def _migrated(url: str, package: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(url)
    await migrate(pool, "samspil.runtime.migrations", package)
    try:
        yield pool
    finally:
        await pool.close()


@dataclass
class Consumed:
    """A consumed record as ReliableConsumer.process_batch reads one (aiokafka's ConsumerRecord
    has these fields), for tests that hand it records directly."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


@pytest.fixture
async def outbox_db(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """A database with only the runtime's tables (outbox, inbox, dead letters)."""
    pool = await asyncpg.create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def gateway_pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """A provider gateway database of the test's own, migrated as the service migrates it."""
    pool = await create_pool(infra.create_database("gateway"))
    await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
    try:
        yield pool
    finally:
        await pool.close()
