"""The employment service receives a batch of provider reports set-wise (receive_reports) with the
same effect as one by one (receive_report): the same reports kept, tasks made and answers put in
the outbox, a report given twice kept once, one for the social plan left to the social team."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from employment.entrypoints.consumers import subscription
from employment.settings import EmploymentSettings
from samspil.runtime.codec import encode
from samspil.runtime.consumer import Outcome, ReliableConsumer
from schemas.base import EventData
from schemas.envelope import Envelope
from schemas.provider_reports import (
    PlanChangeRequested,
    ProgressReportSubmitted,
    ReadinessReportSubmitted,
)
from schemas.registry import EVENT_TYPES, UPCASTS
from tests.infra import Infra
from tests.integration.conftest import DEAD_LETTER_KEY, Consumed, _migrated
from tests.support import absence_notice, citizen_ref


def report(model: type[EventData], subject: str, **changes: Any) -> tuple[Envelope, EventData]:
    example = {**model.model_json_schema()["examples"][0], "submission_id": str(uuid.uuid4()), **changes}
    data = model.model_validate(example)
    envelope = Envelope(
        source="/samspil/provider-gateway",
        type=data.event_type,
        subject=subject,
        dataschema=data.dataschema,
        correlationid=uuid.uuid4(),
    )
    return envelope, data


def reports() -> list[Consumed]:
    subject, other = citizen_ref(), citizen_ref()
    absence = absence_notice(subject)
    again = absence_notice(subject)
    # The same submission sent again under a new event id: kept once, answered once.
    again = (again[0], absence[1])
    pairs = [
        absence,
        report(ProgressReportSubmitted, subject, concern=True, concern_text="Udeblevet to gange."),
        report(PlanChangeRequested, other, target_plan="social-plan"),
        again,
        report(PlanChangeRequested, subject, urgency="urgent"),
        report(ReadinessReportSubmitted, other),
        absence_notice(other),
    ]
    return [
        Consumed(record.topic, 0, offset, record.key, record.value, record.headers)
        for offset, record in enumerate(encode(envelope, data) for envelope, data in pairs)
    ]


async def effects(pool: asyncpg.Pool) -> dict[str, Any]:
    """What the reports left, without what differs by nature (generated ids, times)."""
    kept = await pool.fetch(
        "SELECT submission_id, kind, citizen_ref, referral_id, provider_id, source_event_id, details"
        " FROM provider_report ORDER BY source_event_id"
    )
    tasks = await pool.fetch(
        "SELECT citizen_ref, kind, title, due_on, referral_id, provider_id, source_event_id, source_time,"
        " details, status FROM caseworker_task ORDER BY source_event_id"
    )
    answers = await pool.fetch("SELECT event_type, topic, record_key, payload FROM outbox ORDER BY seq")
    return {
        "reports": [dict(row) for row in kept],
        "tasks": [dict(row) for row in tasks],
        "answers": [
            (row["event_type"], row["topic"], row["record_key"], json.loads(row["payload"]))
            for row in answers
        ],
    }


def consumer(pool: asyncpg.Pool) -> ReliableConsumer:
    settings = EmploymentSettings(
        database_url="postgresql://unused@localhost/unused",
        dead_letter_key=DEAD_LETTER_KEY,
        SAMSPIL_AUTH_SECRET="x" * 32,
        SAMSPIL_CITIZEN_REF_KEY="x" * 32,
    )
    wanted = subscription(settings)
    assert wanted.batch_handlers, "the employment service receives reports set-wise"
    return ReliableConsumer(
        name="employment",
        pool=pool,
        handlers=wanted.handlers,
        known_types=EVENT_TYPES,
        upcasts=UPCASTS,
        dead_letter_key=DEAD_LETTER_KEY,
        batch_handlers=wanted.batch_handlers,
    )


async def test_a_batch_of_reports_has_the_same_effect_as_one_report_at_a_time(infra: Infra) -> None:
    records = reports()
    async with (
        _migrated(infra.create_database("employment"), "employment.migrations") as batched,
        _migrated(infra.create_database("employment"), "employment.migrations") as one_by_one,
    ):
        progress = await consumer(batched).process_batch(records)
        assert progress.commit and not progress.rewind
        alone = consumer(one_by_one)
        outcomes = [await alone.process(record) for record in records]
        assert outcomes == [Outcome.PROCESSED] * len(records)

        expected = await effects(one_by_one)
        assert len(expected["reports"]) == 6 and len(expected["tasks"]) == 4
        assert len(expected["answers"]) == 5  # none for the social plan's, one for the two copies
        assert await effects(batched) == expected
        assert await batched.fetchval("SELECT count(*) FROM inbox") == len(records)
