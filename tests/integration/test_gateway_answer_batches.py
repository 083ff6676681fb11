"""The gateway takes a run of the departments' answers to submissions (acknowledgements, decisions,
final outcomes) set-wise (record_department_answers) with the same effect as one at a time
(record_acknowledgement, record_decision, record_final_outcome): the same submissions' states,
acknowledgements and state times, the same feed rows in the same positions, the same webhook
deliveries, whether the answer is fresh, given again, for a submission not the gateway's or the
provider's, late (after a later state) or one of several to one submission in the run. A poison
answer inside a run is dead-lettered with its reason and its neighbours handled; a run costs the
same few statements however long it is."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from provider_gateway.entrypoints.consumers import subscription
from samspil.runtime.codec import encode
from samspil.runtime.consumer import Outcome, ReliableConsumer
from samspil.runtime.db import migrate
from schemas.base import EventData
from schemas.decisions import AbsenceAssessed, PlanChangeDecided, ReportReceived
from schemas.disputes import PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.referrals import ProgressReportDueSoon
from schemas.registry import EVENT_TYPES, UPCASTS
from schemas.topics import dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import DEAD_LETTER_KEY, Consumed
from tests.support import citizen_ref

PROVIDER, OTHER_PROVIDER = "aktivcenter-nord", "aktivcenter-syd"
REFERRAL = uuid.UUID("6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20")
SUBJECT = citizen_ref("answers")
# Every kind, and only final outcomes: both endpoints get deliveries, in the feed's order.
ENDPOINTS = {
    uuid.UUID(int=1): [
        "submission-acknowledged",
        "submission-decided",
        "submission-final",
        "progress-report-due",
    ],
    uuid.UUID(int=2): ["submission-final"],
}
SEEDED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TASK_CREATED = {"department": "employment", "outcome": "task-created", "task_due_on": "2026-11-25"}


def sub(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"submission/{name}")


# name: (provider, kind, status, acknowledgements already on it)
SUBMISSIONS: dict[str, tuple[str, str, str, list[dict[str, Any]]]] = {
    "fresh": (PROVIDER, "absence-notice", "received", []),
    "acknowledged": (PROVIDER, "absence-notice", "acted-on", [TASK_CREATED]),
    "final": (
        PROVIDER,
        "absence-notice",
        "final",
        [{"department": "employment", "outcome": "decided", "final": True, "decision": "acceptable"}],
    ),
    "twice": (PROVIDER, "progress-report", "received", []),
    "plan": (PROVIDER, "plan-change-request", "received", []),
    "others": (OTHER_PROVIDER, "absence-notice", "received", []),
    "poison": (PROVIDER, "absence-notice", "received", []),
}


async def seed(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO provider_client (client_id, provider_id, secret_hash) VALUES ($1, $1, 'unused')",
        PROVIDER,
    )
    for endpoint_id, kinds in ENDPOINTS.items():
        await pool.execute(
            "INSERT INTO webhook_endpoint (endpoint_id, provider_id, url, event_kinds, secret_sealed)"
            " VALUES ($1, $2, 'https://example.test/hook', $3, '\\x00')",
            endpoint_id,
            PROVIDER,
            kinds,
        )
    await pool.execute(
        "INSERT INTO referral_view (referral_id, provider_id, citizen_ref, citizen_display_name, offer_title,"
        " hours_per_week, starts_on, status)"
        " VALUES ($1, $2, $3, 'Borger', 'Tilbud', 10, '2026-11-01', 'accepted')",
        REFERRAL,
        PROVIDER,
        SUBJECT,
    )
    for name, (provider, kind, status, acknowledgements) in SUBMISSIONS.items():
        rank = ["received", "delivered", "acted-on", "final"].index(status)
        await pool.execute(
            "INSERT INTO submission (submission_id, provider_id, referral_id, kind, status, acknowledgements,"
            " updated_at, delivered_at, acted_on_at, final_at)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)",
            sub(name),
            provider,
            REFERRAL,
            kind,
            status,
            json.dumps(acknowledgements),
            SEEDED_AT,
            *(SEEDED_AT if rank >= state else None for state in (1, 2, 3)),
        )


def event(model: type[EventData], **changes: Any) -> tuple[Envelope, EventData]:
    data = model.model_validate({**model.model_json_schema()["examples"][0], **changes})
    envelope = Envelope(
        source="/samspil/employment",
        type=data.event_type,
        subject=SUBJECT,
        dataschema=data.dataschema,
        correlationid=uuid.uuid4(),
    )
    return envelope, data


def acknowledgement(name: str, outcome: str = "task-created", **changes: Any) -> tuple[Envelope, EventData]:
    return event(ReportReceived, submission_id=str(sub(name)), outcome=outcome, **changes)


def answers() -> list[tuple[Envelope, EventData]]:
    """Every case in one sequence (a due-soon reminder splits it in two runs)."""
    return [
        acknowledgement("fresh"),
        acknowledgement("fresh"),  # the same fact published anew, in the same run: shown once
        acknowledgement("unknown"),  # no such submission
        acknowledgement("others"),  # another provider's submission
        acknowledgement("acknowledged"),  # already on it before the run
        acknowledgement("final", outcome="recorded"),  # late: shown, the state stays final
        acknowledgement("twice"),
        event(ProgressReportDueSoon, referral_id=str(REFERRAL)),
        acknowledgement("twice", outcome="completed"),  # the second in the run: final
        event(AbsenceAssessed, submission_id=str(sub("fresh"))),
        event(PlanChangeDecided, submission_id=str(sub("plan"))),
        event(PlanChangeDecisionFinal, submission_id=str(sub("plan"))),
        # Another final outcome for it: the first stands.
        event(PlanChangeDecisionFinal, submission_id=str(sub("plan")), outcome="rejected"),
        event(PlanChangeDecided, submission_id=None),  # the department's own initiative
        acknowledgement("twice"),  # again, after final
    ]


def records(pairs: list[tuple[Envelope, EventData]]) -> list[Consumed]:
    return [
        Consumed(record.topic, 0, offset, record.key, record.value, record.headers)
        for offset, record in enumerate(encode(envelope, data) for envelope, data in pairs)
    ]


def consumer(pool: asyncpg.Pool, *, set_wise: bool = True, max_attempts: int = 5) -> ReliableConsumer:
    wanted = subscription()
    assert wanted.batch_handlers, "the gateway takes the departments' answers set-wise"
    return ReliableConsumer(
        name="provider-gateway",
        pool=pool,
        handlers=wanted.handlers,
        known_types=EVENT_TYPES,
        upcasts=UPCASTS,
        dead_letter_key=DEAD_LETTER_KEY,
        max_attempts=max_attempts,
        backoff_base=0.0,
        batch_handlers=wanted.batch_handlers if set_wise else {},
    )


async def effects(pool: asyncpg.Pool) -> dict[str, Any]:
    """What the answers left: each submission's state (its times as none, as seeded or set by
    an answer), the feed in position order and the webhook deliveries in their order."""

    def when(column: str) -> str:
        return f"CASE WHEN {column} IS NULL THEN 'none' WHEN {column} = $1 THEN 'seeded' ELSE 'set' END"

    times = ", ".join(
        f"{when(column)} AS {column}" for column in ("updated_at", "delivered_at", "acted_on_at", "final_at")
    )
    submissions = await pool.fetch(
        f"SELECT submission_id, provider_id, status, acknowledgements, {times} FROM submission"
        " ORDER BY submission_id",
        SEEDED_AT,
    )
    feed = await pool.fetch(
        "SELECT position, provider_id, kind, referral_id, submission_id, data FROM provider_feed"
        " ORDER BY position"
    )
    deliveries = await pool.fetch(
        "SELECT d.seq, d.endpoint_id, d.ordering_key, d.status, m.provider_id, m.kind, m.referral_id,"
        " m.submission_id, m.data FROM webhook_delivery AS d JOIN webhook_message AS m USING (message_id)"
        " ORDER BY d.seq"
    )
    return {
        "submissions": {
            row["submission_id"]: {**dict(row), "acknowledgements": json.loads(row["acknowledgements"])}
            for row in submissions
        },
        "feed": [{**dict(row), "data": json.loads(row["data"])} for row in feed],
        "deliveries": [{**dict(row), "data": json.loads(row["data"])} for row in deliveries],
        "outbox": await pool.fetchval("SELECT count(*) FROM outbox"),
        "dead_letters": await pool.fetchval("SELECT count(*) FROM dead_letter"),
        "inbox": await pool.fetchval("SELECT count(*) FROM inbox"),
    }


@pytest.fixture
async def gateway_databases(infra: Infra) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two gateway databases, migrated and seeded alike."""
    pools = []
    try:
        for _ in range(2):
            pool = await asyncpg.create_pool(infra.create_database("gateway"), min_size=1, max_size=2)
            assert pool is not None
            pools.append(pool)
            await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
            await seed(pool)
        yield pools[0], pools[1]
    finally:
        for pool in pools:
            await pool.close()


async def test_a_run_of_answers_has_the_same_effect_set_wise_as_one_at_a_time(
    gateway_databases: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    set_wise, one_by_one = gateway_databases
    given = records(answers())
    progress = await consumer(set_wise).process_batch(given)
    assert progress.commit and not progress.rewind
    alone = consumer(one_by_one, set_wise=False)
    assert [await alone.process(record) for record in given] == [Outcome.PROCESSED] * len(given)

    expected = await effects(one_by_one)
    assert await effects(set_wise) == expected

    # And what that is: every case as the provider must see it.
    state = {name: expected["submissions"][sub(name)] for name in SUBMISSIONS}
    assert {name: row["status"] for name, row in state.items()} == {
        "fresh": "final",
        "acknowledged": "acted-on",
        "final": "final",
        "twice": "final",
        "plan": "final",
        "others": "received",
        "poison": "received",
    }
    assert [a["outcome"] for a in state["fresh"]["acknowledgements"]] == ["task-created", "decided"]
    assert state["acknowledged"]["acknowledgements"] == [TASK_CREATED]
    assert state["acknowledged"]["updated_at"] == "seeded"
    assert [a["outcome"] for a in state["final"]["acknowledgements"]] == ["decided", "recorded"]
    assert (state["final"]["final_at"], state["final"]["updated_at"]) == ("seeded", "set")
    assert [a["outcome"] for a in state["twice"]["acknowledgements"]] == ["task-created", "completed"]
    assert [state["twice"][f"{s}_at"] for s in ("delivered", "acted_on", "final")] == ["set"] * 3
    plan = state["plan"]["acknowledgements"]
    assert [(a["outcome"], a["decision"]) for a in plan] == [("decided", "approved"), ("final", "compromise")]
    assert state["others"]["acknowledgements"] == [] and state["others"]["updated_at"] == "seeded"
    assert [(row["kind"], row["position"]) for row in expected["feed"]] == [
        ("submission-acknowledged", 1),
        ("submission-acknowledged", 2),
        ("submission-acknowledged", 3),
        ("progress-report-due", 4),
        ("submission-acknowledged", 5),
        ("submission-decided", 6),
        ("submission-decided", 7),
        ("submission-final", 8),
    ]
    assert [(row["endpoint_id"].int, row["kind"]) for row in expected["deliveries"]] == [
        *((1, row["kind"]) for row in expected["feed"][:7]),
        (1, "submission-final"),
        (2, "submission-final"),
    ]
    assert (expected["outbox"], expected["dead_letters"], expected["inbox"]) == (0, 0, len(given))


# Fails the update of the named submission, as a store that refuses one row would.
REFUSE_POISON = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.submission_id = '{poison}' THEN
        RAISE EXCEPTION 'the submission store refused it';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE UPDATE ON submission FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""


async def test_a_poison_answer_inside_a_run_is_dead_lettered_and_its_neighbours_are_handled(
    gateway_databases: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    pool, _ = gateway_databases
    await pool.execute(REFUSE_POISON.format(poison=sub("poison")))
    pairs = [acknowledgement("fresh"), acknowledgement("poison"), acknowledgement("twice")]
    poison = pairs[1][0]
    progress = await consumer(pool, max_attempts=2).process_batch(records(pairs))
    assert progress.commit == {next(iter(progress.commit)): len(pairs)} and not progress.rewind

    row = await pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(poison.id))
    assert row is not None and row["reason"] == "handler-failed"
    assert "the submission store refused it" in row["error"] and row["attempts"] == 2
    topic = dead_letter_topic("provider-gateway").name
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", topic) == 1
    statuses = {row["submission_id"]: row["status"] for row in await pool.fetch("SELECT * FROM submission")}
    assert (statuses[sub("fresh")], statuses[sub("twice")], statuses[sub("poison")]) == (
        "acted-on",
        "acted-on",
        "received",
    )
    feed = await pool.fetch("SELECT submission_id FROM provider_feed ORDER BY position")
    assert [row["submission_id"] for row in feed] == [sub("fresh"), sub("twice")]
    handled = {envelope.id for envelope, _ in pairs} - {poison.id}
    inbox = await pool.fetch("SELECT event_id FROM inbox")
    assert {row["event_id"] for row in inbox} == handled


class Statements:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, record: Any) -> None:
        self.sent.append(record.query)

    def on(self, *tables: str) -> list[str]:
        """The statements that read or write the tables (the answers' own work)."""
        return [s for s in self.sent if any(table in s for table in tables)]


@pytest.mark.parametrize("set_wise", [True, False], ids=["set-wise", "one-at-a-time"])
async def test_a_run_of_answers_costs_the_same_statements_however_long_it_is(
    infra: Infra, set_wise: bool
) -> None:
    counted = Statements()

    async def count_on(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(counted)

    pool = await asyncpg.create_pool(infra.create_database("gateway"), min_size=1, max_size=1, init=count_on)
    assert pool is not None
    try:
        await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
        await seed(pool)
        reader = consumer(pool, set_wise=set_wise)
        per_run = []
        # The first run also learns the statements' types (asyncpg asks once per connection).
        for length in (2, 4, 16):
            names = [f"run-{length}-{i}" for i in range(length)]
            await pool.executemany(
                "INSERT INTO submission (submission_id, provider_id, referral_id, kind)"
                " VALUES ($1, $2, $3, $4)",
                [(sub(name), PROVIDER, REFERRAL, "absence-notice") for name in names],
            )
            counted.sent.clear()
            await reader.process_batch(records([acknowledgement(name) for name in names]))
            per_run.append(counted.sent[:])
            work = counted.on("submission", "provider_feed")
            if set_wise:
                # Lock and read the run's submissions; update them and write the feed.
                assert [s.split()[0] for s in work] == ["SELECT", "WITH"], work
            else:
                assert len(work) == 3 * length  # read and lock, update, feed: each answer alone
            assert (
                await pool.fetchval(
                    "SELECT count(*) FROM submission"
                    " WHERE submission_id = ANY($1::uuid[]) AND status = 'acted-on'",
                    [sub(name) for name in names],
                )
                == length
            )
        if set_wise:
            assert len(per_run[1]) == len(per_run[2]), per_run
    finally:
        await pool.close()
