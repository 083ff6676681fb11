"""Reading two versions of a message during a migration, and keeping commands a service cannot
handle yet. Each test reads copies of the topics that only it writes to (own_topic)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from samspil.runtime.codec import encode
from schemas.commands import RecordFollowUp
from schemas.contact_course import FollowUpKind
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted, AbsenceNoticeSubmittedV1, ContactChannel
from schemas.topics import EMPLOYMENT_COMMANDS, PROVIDER_REPORTS, Topic
from tests.infra import Infra
from tests.integration.conftest import OwnTopic, RuntimeFactory, on_topic
from tests.support import absence_notice, citizen_ref, produce, wait_for


async def test_the_current_handler_reads_version_1_and_version_2_notices(
    infra: Infra, consumer_runtime: RuntimeFactory, own_reports_topic: Topic
) -> None:
    seen: dict[str, Any] = {}

    async def handler(conn: asyncpg.Connection, envelope: Envelope, data: Any) -> None:
        seen[str(envelope.id)] = data

    v2_envelope, v2 = absence_notice()
    v1 = AbsenceNoticeSubmittedV1(
        submission_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        provider_id="aktivcenter-nord",
        absent_from=date(2026, 11, 16),
        contact_attempts=3,
    )
    v1_envelope = Envelope(
        source="/samspil/provider-gateway",
        type=v1.event_type,
        subject=citizen_ref(),
        dataschema=v1.dataschema,
        correlationid=v1.submission_id,
    )
    async with consumer_runtime(handler=handler, topics=(own_reports_topic,)):
        records = on_topic(own_reports_topic, encode(v1_envelope, v1), encode(v2_envelope, v2))
        await produce(infra.bootstrap_servers, *records)
        await wait_for(lambda: _both(seen, v1_envelope, v2_envelope))
    old, new = seen[str(v1_envelope.id)], seen[str(v2_envelope.id)]
    assert isinstance(old, AbsenceNoticeSubmitted) and isinstance(new, AbsenceNoticeSubmitted)
    assert [attempt.channel for attempt in old.contact_attempts] == [ContactChannel.UNKNOWN] * 3
    assert old.submission_id == v1.submission_id and old.absent_from == v1.absent_from
    assert new == v2


async def _both(seen: dict[str, Any], *envelopes: Envelope) -> bool:
    return all(str(envelope.id) in seen for envelope in envelopes)


async def test_a_command_the_service_cannot_handle_yet_is_kept_as_a_dead_letter(
    infra: Infra, consumer_runtime: RuntimeFactory, own_topic: OwnTopic
) -> None:
    command = RecordFollowUp(kind=FollowUpKind.PHONE, held_on=date(2026, 12, 15))
    envelope = Envelope(
        source="/kommune/case-system",
        type=command.event_type,
        subject=citizen_ref(),
        dataschema=command.dataschema,
        correlationid=uuid.uuid4(),
    )
    reports, commands = await own_topic(PROVIDER_REPORTS), await own_topic(EMPLOYMENT_COMMANDS)
    async with consumer_runtime(topics=(reports, commands)) as runtime:
        await produce(infra.bootstrap_servers, *on_topic(commands, encode(envelope, command)))
        row = await wait_for(
            lambda: runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(envelope.id))
        )
    assert row["reason"] == "unsupported-command"
    assert row["topic"] == commands.name
