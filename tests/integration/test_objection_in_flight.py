"""An objection sent in time but still unread on the command topic when the deadline passes is
not refused: the jobcenter's scheduler closes an objection window only once every command sent
before it closed has been handled (real broker, real PostgreSQL, the clock moved forward)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from employment.domain.actor import Actor
from employment.entrypoints.scheduler import settle_windows
from employment.service_layer import protocol
from employment.service_layer.messages import DANISH_TIME
from samspil.runtime.codec import encode
from samspil.runtime.db import Connection
from samspil.runtime.handled_input import HandledInput
from schemas.commands import ObjectToSocialPlanDecision
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
from schemas.disputes import DisputeRaised, PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.provider_reports import TargetPlan
from schemas.topics import EMPLOYMENT_COMMANDS
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory
from tests.support import citizen_ref, produce, wait_for

DECIDED_AT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday: objections by Monday 8 March
LAST_DAY = date(2027, 3, 8)
DAY_AFTER = datetime(2027, 3, 9, 7, 0, tzinfo=DANISH_TIME)


async def social_decision(pool: asyncpg.Pool) -> tuple[str, uuid.UUID]:
    decided = PlanChangeDecided(
        decision_id=uuid.uuid4(),
        submission_id=uuid.uuid4(),
        target_plan=TargetPlan.SOCIAL_PLAN,
        decision=PlanChangeDecision.REJECTED,
        reason="Bostøtte om eftermiddagen passer ikke endnu.",
        deciding_team=CaseworkerTeam(department=Department.SOCIAL, team="Socialcenter Vest, team 2"),
    )
    subject = citizen_ref()
    envelope = Envelope(
        source="/samspil/social",
        type=decided.event_type,
        subject=subject,
        dataschema=decided.dataschema,
        correlationid=uuid.uuid4(),
        time=DECIDED_AT,
    )
    async with pool.acquire() as conn, conn.transaction():
        await protocol.informed_of_social_decision(conn, envelope, decided, objection_days=5)
    return subject, decided.decision_id


async def status_of(pool: asyncpg.Pool, decision_id: uuid.UUID) -> str:
    status: str = await pool.fetchval(
        "SELECT status FROM social_decision_review WHERE decision_id = $1", decision_id
    )
    return status


async def test_an_objection_sent_in_time_and_still_unread_wins_over_the_deadline(
    infra: Infra, employment_url: str, employment_db: asyncpg.Pool, consumer_runtime: RuntimeFactory
) -> None:
    commands = EMPLOYMENT_COMMANDS  # a group of the test's own reads it from its beginning
    objected_subject, objected = await social_decision(employment_db)
    _, unopposed = await social_decision(employment_db)
    let_through = asyncio.Event()

    async def object_when_let_through(conn: Connection, envelope: Envelope, command: Any) -> None:
        if command.decision_id != objected:
            return  # another test's command: handled as nothing
        await let_through.wait()  # the objection waits on the bus while the scheduler runs
        sent_on = envelope.time.astimezone(DANISH_TIME).date()
        actor = Actor.case_system(envelope.source)
        await protocol.object_to_social_decision(
            conn, envelope.subject, command, actor, sent_on, 10, envelope
        )

    objection = ObjectToSocialPlanDecision(
        decision_id=objected, position="Jobplanen taler imod.", team="Jobcenter Nord, team 3"
    )
    sent = Envelope(
        source="/case-system/jobcenter",
        type=objection.event_type,
        subject=objected_subject,
        dataschema=objection.dataschema,
        correlationid=uuid.uuid4(),
        time=datetime(2027, 3, 8, 15, 0, tzinfo=DANISH_TIME),  # on the last day
    )
    async with consumer_runtime(
        database_url=employment_url,
        topics=(commands,),
        handlers={ObjectToSocialPlanDecision: object_when_let_through},
    ) as runtime:
        await produce(infra.bootstrap_servers, encode(sent, objection, commands.name))
        handled = HandledInput(commands.name, clock=lambda: DAY_AFTER)
        handled.watch(runtime)

        # The deadline has passed by the clock, but a command sent before it is unhandled.
        assert await settle_windows(employment_db, DAY_AFTER.date(), handled) == 0
        assert await status_of(employment_db, objected) == "open"
        assert await status_of(employment_db, unopposed) == "open"

        let_through.set()
        await wait_for(lambda: handled.until())
        assert await settle_windows(employment_db, DAY_AFTER.date(), handled) == 1

    assert await status_of(employment_db, objected) == "objected"
    assert await status_of(employment_db, unopposed) == "final"
    finals = await employment_db.fetch(
        "SELECT payload FROM outbox WHERE event_type = $1", PlanChangeDecisionFinal.event_type
    )
    assert [json.loads(row["payload"])["decision_id"] for row in finals] == [str(unopposed)]
    [raised] = await employment_db.fetch(
        "SELECT payload FROM outbox WHERE event_type = $1", DisputeRaised.event_type
    )
    assert json.loads(raised["payload"])["decision_id"] == str(objected)
