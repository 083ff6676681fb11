"""Dead letters never keep a CPR number: not in the dead-letter table, the outbox row that
carries it, nor the record on the dead-letter topic; the reason names the field."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from samspil.runtime.codec import Record, encode, header
from samspil.runtime.deadletters import count_redacted, replay_dead_letters
from samspil.runtime.redaction import Redactor
from samspil.runtime.service import ServiceRuntime
from schemas.commands import RecordFollowUp
from schemas.contact_course import FollowUpKind
from schemas.envelope import Envelope, cpr_spans
from schemas.topics import EMPLOYMENT_COMMANDS, PROVIDER_REPORTS, Topic, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import DEAD_LETTER_KEY, OwnTopic, RuntimeFactory
from tests.support import produce, read_topic, wait_for

PLACEHOLDER = "NOTE-PLACEHOLDER"
SPACED = "010203 - 1234"


def follow_up_command(note: str, *, source: str = "/kommune/case-system") -> tuple[Envelope, Record]:
    """A RecordFollowUp whose note is ``note``, byte for byte: the model itself would refuse a
    CPR number, so it is written into the encoded record."""
    command = RecordFollowUp(kind=FollowUpKind.PHONE, held_on=date(2026, 12, 15), note=PLACEHOLDER)
    envelope = Envelope(
        source="/kommune/case-system",
        type=command.event_type,
        subject="k1:" + "ab" * 32,
        dataschema=command.dataschema,
        correlationid=uuid.uuid4(),
    )
    record = encode(envelope, command)
    value = record.value.replace(json.dumps(PLACEHOLDER).encode(), json.dumps(note).encode())
    headers = [(name, source.encode() if name == "ce_source" else raw) for name, raw in record.headers]
    return envelope, replace(record, value=value, headers=headers)


@pytest.fixture
async def topics(own_topic: OwnTopic) -> tuple[Topic, Topic]:
    """Copies of the reports and the employment commands topics that only this test writes to:
    its consumer reads nothing that other tests left there."""
    return await own_topic(PROVIDER_REPORTS), await own_topic(EMPLOYMENT_COMMANDS)


async def dead_letter_everywhere(
    infra: Infra, runtime: ServiceRuntime, envelope: Envelope
) -> tuple[Any, Any, tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """The dead letter of the event as the table, the outbox and the dead-letter topic hold it."""
    row = await wait_for(
        lambda: runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(envelope.id))
    )
    outbox = await wait_for(
        lambda: runtime.pool.fetchrow(
            "SELECT * FROM outbox WHERE topic = $1 AND event_id = $2 AND published_at IS NOT NULL",
            dead_letter_topic(runtime.name).name,
            str(envelope.id),
        )
    )
    records = await read_topic(infra.bootstrap_servers, dead_letter_topic(runtime.name).name)
    on_topic = [r for r in records if header(r[2], "ce_id") == str(envelope.id)]
    assert len(on_topic) == 1
    return row, outbox, on_topic[0]


def kept_bytes(row: Any, outbox: Any, on_topic: tuple[bytes | None, bytes, list[tuple[str, bytes]]]) -> bytes:
    """Every byte kept of the dead letter, in all three places."""
    key, value, headers = on_topic
    parts: list[bytes] = [key or b"", value, *(n.encode() + b"=" + v for n, v in headers)]
    for source in (row, outbox):
        parts += [source["record_key"] or b"", source["payload"], *source["header_values"]]
        parts += [name.encode() for name in source["header_names"]]
    parts += [row["error"].encode(), (row["event_type"] or "").encode()]
    return b"\n".join(parts)


def assert_no_cpr_number(kept: bytes, *digits: str) -> None:
    text = kept.decode("utf-8", "replace")
    assert cpr_spans(text) == []
    for run in digits:
        assert run not in text


CPR_SPELLINGS = ["010203-1234", SPACED]


@pytest.mark.parametrize("cpr", CPR_SPELLINGS)
async def test_a_command_whose_note_holds_a_cpr_number_is_dead_lettered_without_it(
    infra: Infra, consumer_runtime: RuntimeFactory, topics: tuple[Topic, Topic], cpr: str
) -> None:
    handled: list[Envelope] = []

    async def record_follow_up(_: Any, handled_envelope: Envelope, __: Any) -> None:
        handled.append(handled_envelope)

    note = f"Talt med borgeren ({cpr}) om forløbet."
    envelope, record = follow_up_command(note)
    async with consumer_runtime(topics=topics, handlers={RecordFollowUp: record_follow_up}) as runtime:
        await produce(infra.bootstrap_servers, replace(record, topic=topics[1].name))
        row, outbox, on_topic = await dead_letter_everywhere(infra, runtime, envelope)
        async with runtime.pool.acquire() as conn:
            assert await replay_dead_letters(conn, [row["id"]]) == 0
            assert await count_redacted(conn, [row["id"]]) == 1

    assert envelope.id not in {handled_envelope.id for handled_envelope in handled}
    assert_no_cpr_number(kept_bytes(row, outbox, on_topic), "1234", "010203")
    assert row["reason"] == "invalid-data"
    assert "note" in row["error"] and "value.note" in row["error"]
    assert row["redacted"] == ["value.note"]
    assert header(on_topic[2], "dlq_redacted") == "value.note"
    assert header(on_topic[2], "dlq_error") == row["error"]
    # The same redacted bytes in all three places, with the note replaced by its marker.
    assert row["payload"] == outbox["payload"] == on_topic[1]
    stored = json.loads(row["payload"])
    assert stored["note"] == Redactor(DEAD_LETTER_KEY).marker("value.note", note.encode())
    assert stored["kind"] == "phone" and stored["held_on"] == "2026-12-15"


async def test_a_cpr_number_in_ce_source_or_the_key_is_redacted_whatever_the_reason(
    infra: Infra, consumer_runtime: RuntimeFactory, topics: tuple[Topic, Topic]
) -> None:
    # An envelope whose ce_source holds a CPR number is refused before its data is read.
    envelope, record = follow_up_command("Kort status.", source="/kommune/sag/010203-1234")
    record = replace(record, key=b"0102031234", topic=topics[1].name)
    async with consumer_runtime(topics=topics) as runtime:
        await produce(infra.bootstrap_servers, record)
        row, outbox, on_topic = await dead_letter_everywhere(infra, runtime, envelope)

    assert_no_cpr_number(kept_bytes(row, outbox, on_topic), "1234", "010203")
    assert row["reason"] == "invalid-envelope" and "ce_source" in row["error"]
    assert row["redacted"] == ["key", "header.ce_source"]
    assert "key, header.ce_source" in row["error"]
    # The untouched parts are kept as they came: the value, the event id, the other attributes.
    assert row["payload"] == record.value == on_topic[1]
    assert header(on_topic[2], "ce_id") == str(envelope.id)
    assert header(on_topic[2], "ce_type") == RecordFollowUp.event_type
    redactor = Redactor(DEAD_LETTER_KEY)
    assert header(on_topic[2], "ce_source") == redactor.marker(
        "header.ce_source", b"/kommune/sag/010203-1234"
    )
    assert (
        on_topic[0]
        == outbox["record_key"]
        == row["record_key"]
        == redactor.marker("key", b"0102031234").encode()
    )


async def test_a_value_that_is_not_json_keeps_its_text_around_the_redacted_number(
    infra: Infra, consumer_runtime: RuntimeFactory, topics: tuple[Topic, Topic]
) -> None:
    async def record_follow_up(*_: Any) -> None:
        """The test's command never reaches it."""

    envelope, record = follow_up_command("x")
    record = replace(record, value=b"not json: 010203-1234, and more", topic=topics[1].name)
    async with consumer_runtime(topics=topics, handlers={RecordFollowUp: record_follow_up}) as runtime:
        await produce(infra.bootstrap_servers, record)
        row, outbox, on_topic = await dead_letter_everywhere(infra, runtime, envelope)

    assert_no_cpr_number(kept_bytes(row, outbox, on_topic), "1234", "010203")
    marker = Redactor(DEAD_LETTER_KEY).marker("value", b"010203-1234")
    assert row["payload"] == f"not json: {marker}, and more".encode() == on_topic[1]
    assert row["redacted"] == ["value"]
