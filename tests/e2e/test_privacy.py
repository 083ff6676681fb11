"""No CPR number past any door: a security reviewer's sweep, through the running services.

Made-up CPR numbers are sent, in the spellings that used to get through (spaces around the dash,
other dashes, full-width and Arabic-Indic digits), through every kind of door: free-text fields
of both departments' and the gateway's bodies, path and query parameters, the Idempotency-Key
header, bus commands' data and CloudEvents attributes. Each is refused with the field named and
never a 500; then every topic, every table (but the departments' citizen table), every service
log, the PostgreSQL server log and every answer the provider got are searched for the numbers.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from samspil.runtime.codec import encode
from schemas.commands import AddCaseNote
from schemas.cpr import read_as_plain
from schemas.envelope import Envelope
from schemas.topics import CATALOGUE, EMPLOYMENT_COMMANDS
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.infra import Infra
from tests.support import produce, random_cpr, wait_for

pytestmark = pytest.mark.e2e

FULL_WIDTH = {ord(str(d)): chr(0xFF10 + d) for d in range(10)}
ARABIC_INDIC = {ord(str(d)): chr(0x0660 + d) for d in range(10)}


def spaced(cpr: str) -> str:
    return f"{cpr[:6]} - {cpr[-4:]}"


def en_dash(cpr: str) -> str:
    return f"{cpr[:6]} \u2013 {cpr[-4:]}"


def full_width(cpr: str) -> str:
    return cpr.translate(FULL_WIDTH)


def arabic_indic(cpr: str) -> str:
    return cpr.translate(ARABIC_INDIC)


def holds(text: str, digits: str) -> bool:
    """Whether ``text`` holds the ten ``digits`` in any spelling (separators and scripts aside)."""
    return digits in re.sub(r"[ \-./]", "", read_as_plain(text)[0])


def refused_naming(response: httpx.Response, field: str) -> bool:
    if response.status_code != 422 or response.headers["content-type"] != "application/problem+json":
        return False
    return field in {error["field"] for error in response.json()["errors"]}


async def all_rows_as_text(url: str, skip: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Every row of every table in a database as JSON text, with the ``(table, column)`` pairs
    in ``skip`` left out."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        rows = []
        for table in tables:
            name = f'"{table["table_schema"]}"."{table["table_name"]}"'
            dropped = [column for t, column in skip if t == table["table_name"]]
            expression = "to_jsonb(t)" + "".join(f" - '{column}'" for column in dropped)
            for (text,) in await conn.fetch(f"SELECT ({expression})::text FROM {name} t"):
                rows.append((table["table_name"], text))
        return rows
    finally:
        await conn.close()


async def everything_on_the_bus(bootstrap_servers: str) -> list[tuple[str, str]]:
    consumer = AIOKafkaConsumer(
        *(topic.name for topic in CATALOGUE),
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    texts = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for messages in batch.values():
                for m in messages:
                    parts = [m.key or b"", m.value or b""] + [value or b"" for _, value in m.headers]
                    texts.append((m.topic, " | ".join(part.decode("utf-8", "replace") for part in parts)))
    finally:
        await consumer.stop()
    return texts


async def test_no_cpr_number_in_any_spelling_gets_past_any_door(
    running_stack: RunningStack, infra: Infra
) -> None:
    rng = random.Random()
    used: list[str] = []

    def new_cpr() -> str:
        digits = random_cpr(rng).replace("-", "")
        used.append(digits)
        return digits

    provider = f"privat-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    answers: list[str] = []

    async with running_stack.employment() as employment:
        # Free text in a body, in every spelling that used to pass.
        for spell in (spaced, en_dash, full_width, arabic_indic):
            note = await employment.post(
                f"/v1/citizens/{subject}/notes", json={"text": f"Borgeren oplyste {spell(new_cpr())} i dag."}
            )
            assert refused_naming(note, "body.text"), note.text
        referral = await employment.post(
            "/v1/referrals",
            json={
                "citizen_ref": subject,
                "provider_id": provider,
                "offer": {
                    "kind": "activation",
                    "title": "Aktivering",
                    "hours_per_week": 10,
                    "starts_on": "2026-12-01",
                },
                "citizen_display_name": f"Testborger {spaced(new_cpr())}",
                "jobcenter_contact": {"name": "Kim Testesen"},
            },
        )
        assert refused_naming(referral, "body.citizen_display_name"), referral.text
        # Path and query parameters.
        by_path = await employment.get(f"/v1/citizens/{spaced(new_cpr())}")
        assert refused_naming(by_path, "path"), by_path.text
        by_query = await employment.get("/v1/tasks", params={"assignee": en_dash(new_cpr())})
        assert refused_naming(by_query, "query.assignee"), by_query.text
        # Enrolment: the same person in another script is the same citizen; a CPR-shaped text
        # that is no CPR number is a 422 naming the field, never a 500.
        digits = new_cpr()
        first = await employment.post("/v1/citizens", json={"cpr": digits, "target_group": "kontanthjaelp"})
        for spell in (full_width, arabic_indic, spaced):
            again = await employment.post(
                "/v1/citizens", json={"cpr": spell(digits), "target_group": "kontanthjaelp"}
            )
            assert again.status_code == 200, again.text
            assert again.json()["citizen_ref"] == first.json()["citizen_ref"]
        impossible = full_width(f"3102{digits[4:]}")  # 31 February
        no_date = await employment.post(
            "/v1/citizens", json={"cpr": impossible, "target_group": "kontanthjaelp"}
        )
        assert refused_naming(no_date, "body.cpr"), no_date.text
    async with running_stack.social() as social:
        again = await social.post("/v1/citizens", json={"cpr": arabic_indic(digits)})
        assert again.status_code == 201 and again.json()["citizen_ref"] == first.json()["citizen_ref"]
        impossible_social = await social.post("/v1/citizens", json={"cpr": impossible})
        assert refused_naming(impossible_social, "body.cpr"), impossible_social.text

    async with provider_client(running_stack, provider) as gateway:
        detail = await wait_for(lambda: visible_to_provider(gateway, referral_id))
        answers.append(json.dumps(detail))
        notice = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={"absent_from": "2026-12-03", "reason": "illness", "comment": f"Se {en_dash(new_cpr())}"},
        )
        assert refused_naming(notice, "body.comment"), notice.text
        # An Idempotency-Key is never kept as sent (only a keyed hash), so none is refused.
        key = spaced(new_cpr()).replace(" ", "")
        keyed = await gateway.post(
            f"/v1/referrals/{referral_id}/accept", json={}, headers={"Idempotency-Key": key}
        )
        assert keyed.status_code == 200, keyed.text
        again = await gateway.post(
            f"/v1/referrals/{referral_id}/accept", json={}, headers={"Idempotency-Key": key}
        )
        assert again.headers.get("idempotent-replayed") == "true" and again.json() == keyed.json()
        hold = await gateway.post(f"/v1/referrals/{referral_id}/hold", json={"reason": full_width(new_cpr())})
        assert refused_naming(hold, "body.reason"), hold.text
        answers += [notice.text, keyed.text, hold.text, (await gateway.get("/v1/feed")).text]
        answers.append((await gateway.get(f"/v1/referrals/{referral_id}")).text)

    # The bus: a case note command whose text holds one, and one whose ce_source does.
    envelope = Envelope(
        source="/kommune/jobcenter/sagssystem",
        type=AddCaseNote.event_type,
        subject=subject,
        dataschema=AddCaseNote.dataschema,
        correlationid=uuid.uuid4(),
    )
    good = encode(envelope, AddCaseNote(text="Aftalt møde hos mentor."), EMPLOYMENT_COMMANDS.name)
    in_text_id, in_source_id = str(uuid.uuid4()), str(uuid.uuid4())
    in_text = dataclasses.replace(
        good,
        value=json.dumps({"text": f"Noteret {spaced(new_cpr())}"}).encode(),
        headers=[(n, in_text_id.encode() if n == "ce_id" else v) for n, v in good.headers],
    )
    source_cpr = new_cpr()
    in_source = dataclasses.replace(
        good,
        headers=[
            (
                n,
                in_source_id.encode()
                if n == "ce_id"
                else f"/sagssystem/{source_cpr}".encode()
                if n == "ce_source"
                else v,
            )
            for n, v in good.headers
        ],
    )
    await produce(infra.bootstrap_servers, in_text, in_source)

    async def both_dead_lettered() -> bool:
        conn = await asyncpg.connect(running_stack.env["EMPLOYMENT_DATABASE_URL"])
        try:
            # A record refused for its envelope has no event id of its own: find it by its ce_id.
            rows = await conn.fetch(
                "SELECT convert_from(h.v, 'UTF8') AS id, d.reason || ': ' || d.error AS why"
                " FROM dead_letter d, unnest(d.header_names, d.header_values) AS h(n, v)"
                " WHERE h.n = 'ce_id' AND convert_from(h.v, 'UTF8') = ANY($1)",
                [in_text_id, in_source_id],
            )
            reasons: dict[str, str] = {row["id"]: row["why"] for row in rows}
        finally:
            await conn.close()
        return (
            len(reasons) == 2 and "data.text" in reasons[in_text_id] and "ce_source" in reasons[in_source_id]
        )

    await wait_for(both_dead_lettered)

    # The database refusing a row quotes it to the client, never to the server log: a row
    # that breaks the citizen table's CHECK and one that breaks its UNIQUE key.
    conn = await asyncpg.connect(running_stack.env["EMPLOYMENT_DATABASE_URL"])
    try:
        refused_row = new_cpr()
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO citizen (citizen_ref, cpr, target_group, enrolled_on, enrolled_by)"
                " VALUES ($1, $2, 'kontanthjaelp', current_date, 'test')",
                f"bad-{refused_row}",
                f"{refused_row}x",
            )
        enrolled = await conn.fetchval(
            "SELECT cpr FROM citizen WHERE citizen_ref = $1", first.json()["citizen_ref"]
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO citizen (citizen_ref, cpr, target_group, enrolled_on, enrolled_by)"
                " VALUES ('another', $1, 'kontanthjaelp', current_date, 'test')",
                enrolled,
            )
    finally:
        await conn.close()

    # The sweep: nothing anywhere holds any of the numbers used, but the citizen table.
    found: list[str] = []
    for topic, text in await everything_on_the_bus(infra.bootstrap_servers):
        if topic == EMPLOYMENT_COMMANDS.name and (in_text_id in text or in_source_id in text):
            continue  # what the test itself sent; the sweep is about what the system made of it
        found += [f"{topic}: {text[:160]}" for digits in used if holds(text, digits)]
    for service in ("EMPLOYMENT", "SOCIAL", "PROVIDER_GATEWAY"):
        rows = await all_rows_as_text(running_stack.env[f"{service}_DATABASE_URL"], {("citizen", "cpr")})
        found += [
            f"{service} table {table}" for table, text in rows for digits in used if holds(text, digits)
        ]
    logs = [*running_stack.stack.logs.glob("*.log")]
    if infra.postgres_log is not None:
        logs.append(Path(infra.postgres_log))
    assert logs, "the service logs must be there to be read"
    for log in logs:
        text = log.read_text(errors="replace")
        found += [f"log {log.name}" for digits in used if holds(text, digits)]
    found += [f"answer {answer[:120]}" for answer in answers for digits in used if holds(answer, digits)]
    assert found == [], "\n".join(found)
    assert len(used) == 14


async def test_hostile_spellings_never_answer_500(running_stack: RunningStack) -> None:
    odd = ["\u0663" * 10, "３１１２９９-４００５", "31/12/99 - 4005", "\U0001d7ce" * 10, "١٢٣", "x" * 5000]  # noqa: RUF001
    statuses: dict[str, Any] = {}
    async with running_stack.employment() as employment, running_stack.social() as social:
        for text in odd:
            for client in (employment, social):
                response = await client.post(
                    "/v1/citizens", json={"cpr": text, "target_group": "kontanthjaelp"}
                )
                statuses[f"{client.base_url.port} {text[:12]}"] = response.status_code
    assert all(status in (200, 201, 422) for status in statuses.values()), statuses
