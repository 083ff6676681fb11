"""The conflict check between the job plan and the social plan summary on the real PostgreSQL:
a conflict becomes one task and one event, once per pair of plan versions."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from employment.adapters import cases
from employment.domain.actor import Actor
from employment.domain.tasks import TaskKind
from employment.service_layer import plans
from employment.service_layer.messages import danish_today
from samspil.runtime.db import Connection
from schemas.commands import ReviseJobPlan
from schemas.disputes import PlanConflictDetected
from schemas.envelope import Envelope
from schemas.plans import ActivityCategory, JobPlanActivity, MeasureCategory, SocialMeasure, SocialPlanRevised
from tests.support import citizen_ref

SOCIAL_BASIS = "consent: 7c1e0a52-samtykke-handleplan"
JOB_PLAN_BASIS = "statute: frikommuneforsøg, koordineret indsats for fælles borgere"
CASEWORKER = Actor(name="Test Sagsbehandler", team="Jobcenter Nord, team 3")


async def enrolled_citizen(pool: asyncpg.Pool) -> str:
    ref = citizen_ref()
    async with pool.acquire() as conn:
        await cases.insert_citizen(
            conn, ref, "0101709999", "kontanthjælp", ["maybe-suited"], danish_today(), "test"
        )
    return ref


async def receive_social_plan(conn: Connection, ref: str, event: SocialPlanRevised) -> None:
    envelope = Envelope(
        source="/samspil/social",
        type=event.event_type,
        subject=ref,
        dataschema=event.dataschema,
        correlationid=uuid.uuid4(),
        legalbasis=SOCIAL_BASIS,
    )
    async with conn.transaction():
        await plans.social_plan_revised(conn, envelope, event)


async def revise(conn: Connection, ref: str, expected_version: int, activities: list[JobPlanActivity]) -> int:
    command = ReviseJobPlan(
        expected_version=expected_version, goal="Job i lager og logistik.", activities=activities
    )
    async with conn.transaction():
        return await plans.revise_job_plan(conn, ref, command, CASEWORKER, JOB_PLAN_BASIS)


async def conflict_tasks(conn: Connection, ref: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kind, details, source_event_id, due_on FROM caseworker_task"
        " WHERE citizen_ref = $1 AND kind = $2",
        ref,
        TaskKind.RESOLVE_PLAN_CONFLICT.value,
    )


async def conflict_events(conn: Connection, ref: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT header_names, header_values, payload FROM outbox WHERE record_key = $1 AND event_type = $2",
        ref.encode(),
        PlanConflictDetected.event_type,
    )
    return [
        {
            "payload": json.loads(row["payload"]),
            "headers": {
                name: value.decode()
                for name, value in zip(row["header_names"], row["header_values"], strict=True)
            },
        }
        for row in rows
    ]


async def test_a_job_plan_over_the_citizens_capacity_raises_one_task_and_one_event_per_version_pair(
    employment_db: asyncpg.Pool,
) -> None:
    today = danish_today()
    ref = await enrolled_citizen(employment_db)
    summary = SocialPlanRevised(
        plan_version=2,
        goal="Stabil boligsituation og regelmæssig behandling.",
        measures=[SocialMeasure(category=MeasureCategory.HOUSING_SUPPORT, starts_on=today, hours_per_week=6)],
        weekly_capacity_hours=15,
    )
    internship = JobPlanActivity(
        category=ActivityCategory.COMPANY_INTERNSHIP,
        title="Virksomhedspraktik på lager",
        starts_on=today + timedelta(days=7),
        ends_on=today + timedelta(days=90),
        hours_per_week=12,
    )
    async with employment_db.acquire() as conn:
        # The summary alone, before any job plan, has nothing to be checked against.
        await receive_social_plan(conn, ref, summary)
        assert await conflict_tasks(conn, ref) == []

        version = await revise(conn, ref, 0, [internship])

        [task] = await conflict_tasks(conn, ref)
        [event] = await conflict_events(conn, ref)
        details = json.loads(task["details"])
        assert details["rule"] == "hours-over-capacity"
        assert (details["job_plan_version"], details["social_plan_version"]) == (version, 2)
        assert "18 timer om ugen i alt" in details["explanation"]
        assert task["due_on"] > today
        assert event["payload"]["conflict_id"] == str(task["source_event_id"])
        assert event["payload"]["rule"] == "hours-over-capacity"
        assert event["payload"]["explanation"] == details["explanation"]
        # The social department gets it on the basis its summary was shared with us.
        assert event["headers"]["ce_legalbasis"] == SOCIAL_BASIS

        # Checking the same two versions again, or the summary redelivered, adds nothing.
        async with conn.transaction():
            assert await plans.check_plan_conflicts(conn, ref) == 0
        await receive_social_plan(conn, ref, summary)
        assert len(await conflict_tasks(conn, ref)) == 1
        assert len(await conflict_events(conn, ref)) == 1
        assert await conn.fetchval("SELECT count(*) FROM plan_conflict WHERE citizen_ref = $1", ref) == 1


async def test_a_social_plan_with_treatment_incompatible_with_activation_raises_a_conflict_when_it_arrives(
    employment_db: asyncpg.Pool,
) -> None:
    today = danish_today()
    ref = await enrolled_citizen(employment_db)
    internship = JobPlanActivity(
        category=ActivityCategory.COMPANY_INTERNSHIP,
        title="Virksomhedspraktik på lager",
        starts_on=today + timedelta(days=14),
        ends_on=today + timedelta(days=120),
        hours_per_week=10,
    )
    treatment = SocialMeasure(
        category=MeasureCategory.MENTAL_HEALTH_TREATMENT,
        starts_on=today,
        ends_on=today + timedelta(days=60),
        compatible_with_activation=False,
    )
    async with employment_db.acquire() as conn:
        await revise(conn, ref, 0, [internship])
        assert await conflict_tasks(conn, ref) == []

        await receive_social_plan(
            conn, ref, SocialPlanRevised(plan_version=1, goal="Behandling af angst.", measures=[treatment])
        )

        [task] = await conflict_tasks(conn, ref)
        [event] = await conflict_events(conn, ref)
        assert event["payload"]["rule"] == "activity-during-incompatible-measure"
        assert "'Virksomhedspraktik på lager'" in event["payload"]["explanation"]
        assert (event["payload"]["job_plan_version"], event["payload"]["social_plan_version"]) == (1, 1)
        assert json.loads(task["details"])["conflict_id"] == event["payload"]["conflict_id"]
