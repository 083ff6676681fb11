"""Bulk onboarding (`samspil import`) on the real PostgreSQL with the employment migrations: bad
rows are refused by line number and reason without a CPR number in sight while the rest are
enrolled; an interrupted import continues where it stopped and doubles nothing; a citizen
imported is, row for row and event for event, what the caseworkers' API makes; importing again
changes nothing.

The CPR numbers here are made up with birth dates in the 2030s (7th digit 4 or 9), so none can
belong to anyone."""

from __future__ import annotations

import asyncio
import json
import typing
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from employment.adapters import onboarding as onboarding_rows
from employment.domain.actor import Actor
from employment.enrolment_settings import EnrolmentSettings
from employment.entrypoints import citizens_http
from employment.entrypoints.csv_format import BadFile
from employment.entrypoints.csv_import import Progress, Refusal, import_file
from employment.entrypoints.csv_rows import file_digest
from employment.service_layer import plans
from employment.service_layer.messages import envelope_for
from samspil.cli import main
from samspil.runtime import audit
from samspil.runtime.audit import admin_connect, protect, protection_status, verify_chains
from samspil.runtime.auth import Caller
from samspil.runtime.db import create_pool, migrate
from samspil.runtime.pseudonym import citizen_ref_for
from schemas.cpr import contains_cpr
from schemas.disputes import PlanConflictDetected
from schemas.plans import JobPlanRevised, MeasureCategory, SocialMeasure, SocialPlanRevised
from tests.infra import Infra

KEY = "test-citizen-reference-key-" + "r" * 32
SETTINGS = EnrolmentSettings(SAMSPIL_CITIZEN_REF_KEY=KEY)
OPERATOR = "Ida Importør (migrering)"
HEADER = (
    "cpr,target_group,profile_tags,in_contact_course_since,plan_goal,"
    "activity1_category,activity1_title,activity1_starts_on,activity1_ends_on,activity1_hours_per_week,"
    "activity1_provider_id"
)
PLAN = "Job i lager og logistik.,mentor,Mentorstøtte,2026-12-01,,2,aktivcenter-nord"


def cpr(n: int) -> str:
    """The n-th made-up CPR number (n < 1000): born 1 January 2030."""
    return f"010130-4{n:03d}"


def ref(n: int) -> str:
    return citizen_ref_for(cpr(n), KEY, "k1")


def good_row(n: int, plan: str = PLAN) -> str:
    return f"{cpr(n)},kontanthjaelp,physically-ill|maybe-suited-for-activation,2026-09-01,{plan}"


def write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


MIXED_ROWS = [
    good_row(1),  # line 2
    "320130-4002,kontanthjaelp,,,,,,,,,",  # line 3: no 32 January
    f"{cpr(3)},dagpenge,,,,,,,,,",  # line 4: no such target group
    f"{cpr(4)},kontanthjaelp,,2026-13-01,,,,,,,",  # line 5: no month 13
    f"{cpr(5)},,,,,,,,,,",  # line 6: target group missing
    "0101304001,sygedagpenge,,,,,,,,,",  # line 7: line 2's CPR number, written otherwise
    f"{cpr(7)},kontanthjaelp,,,Job for {cpr(99)},,,,,,",  # line 8: a CPR number in the goal
    f"{cpr(8)},kontanthjaelp,,,,mentor,Mentorstøtte,2026-12-01,,,",  # line 9: activity, no goal
    f"{cpr(9)},ressourceforloeb,,,,,,,,,",  # line 10: enrolled without a plan
    f"{cpr(10)},kontanthjaelp,,",  # line 11: too few cells
    f"{cpr(11)},kontanthjaelp,,,{PLAN.replace('2026-12-01', '2026-12-xx')}",  # line 12: bad start
    f"{cpr(12)},kontanthjaelp,{cpr(98)},,,,,,,,",  # line 13: a CPR number among the tags
]
EXPECTED_REFUSALS = {
    3: "cpr: must start with a real birth date",
    4: "target_group: Input should be",
    5: "in_contact_course_since: Input should be a valid date",
    6: "target_group: is required",
    7: "cpr: the same CPR number as line 2",
    8: "plan_goal: must not contain a CPR number",
    9: "plan_goal: is required with the plan's activities",
    11: "has 4 cells where the header has 11",
    12: "activity1_starts_on: Input should be a valid date",
    13: "profile_tags: must not contain a CPR number",
}


def migrated(url: str) -> None:
    async def run() -> None:
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            await migrate(pool, "samspil.runtime.migrations", "employment.migrations")
        finally:
            await pool.close()

    asyncio.run(run())


def test_bad_rows_are_refused_by_line_and_reason_without_a_cpr_number_and_the_rest_enrolled(
    employment_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(employment_url)
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", employment_url)
    monkeypatch.setenv("SAMSPIL_CITIZEN_REF_KEY", KEY)
    path = write(tmp_path / "cases.csv", *MIXED_ROWS)
    refusals = tmp_path / "refused.csv"

    code = main(["import", str(path), "--actor", OPERATOR, "--chunk-rows", "4", "--refusals", str(refusals)])

    out, err = capsys.readouterr()
    assert code == 1
    refused = {
        int(line.split(":")[0].removeprefix("line ")): line
        for line in err.splitlines()
        if line.startswith("line ")
    }
    assert sorted(refused) == sorted(EXPECTED_REFUSALS)
    for line, reason in EXPECTED_REFUSALS.items():
        assert reason in refused[line], refused[line]
    assert "2 enrolled, 0 already enrolled, 1 job plans made, 10 refused" in out
    assert "citizens/s" in out
    for text in (out, err, refusals.read_text()):
        assert not contains_cpr(text)
        assert not any(f"40{n:02d}" in text for n in (1, 3, 4, 5, 7, 8, 9, 10, 11, 12, 98, 99))
    assert len(refusals.read_text().splitlines()) == 1 + len(EXPECTED_REFUSALS)

    async def enrolled() -> list[str]:
        conn = await asyncpg.connect(employment_url)
        try:
            return [row["citizen_ref"] for row in await conn.fetch("SELECT citizen_ref FROM citizen")]
        finally:
            await conn.close()

    assert sorted(asyncio.run(enrolled())) == sorted([ref(1), ref(9)])


class Interrupted(Exception):
    pass


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {
        table: await pool.fetchval(f"SELECT count(*) FROM {table}")
        for table in ("citizen", "contact_course", "job_plan_version", "outbox", "audit.share_log")
    }


async def test_an_interrupted_import_continues_where_it_stopped_and_doubles_nothing(
    employment_db: asyncpg.Pool, tmp_path: Path
) -> None:
    path = write(tmp_path / "cases.csv", *[good_row(n) for n in range(1, 11)])
    committed: list[int] = []

    def stop_after_two_chunks(progress: Progress) -> None:
        committed.append(progress.line)
        if len(committed) == 2:
            raise Interrupted

    async with employment_db.acquire() as conn:
        with pytest.raises(Interrupted):
            await import_file(
                conn, path, SETTINGS, Actor(OPERATOR), chunk_rows=3, on_progress=stop_after_two_chunks
            )
    assert committed == [4, 7]
    assert await counts(employment_db) == dict.fromkeys(await counts(employment_db), 6)

    async with employment_db.acquire() as conn:
        result = await import_file(conn, path, SETTINGS, Actor(OPERATOR), chunk_rows=3)

    assert (result.resumed_from_line, result.rows_this_run, result.already_finished) == (7, 4, False)
    assert (result.run.enrolled, result.run.plans_made, result.run.refused, result.run.last_line) == (
        10,
        10,
        0,
        11,
    )
    assert await counts(employment_db) == dict.fromkeys(await counts(employment_db), 10)
    assert await employment_db.fetchval("SELECT count(DISTINCT record_key) FROM outbox") == 10
    async with employment_db.acquire() as conn:
        assert all(report.broken is None for report in await audit.verify_chains(conn))


async def test_importing_again_changes_nothing(employment_db: asyncpg.Pool, tmp_path: Path) -> None:
    path = write(tmp_path / "cases.csv", *[good_row(n) for n in range(1, 6)], MIXED_ROWS[1])
    async with employment_db.acquire() as conn:
        first = await import_file(conn, path, SETTINGS, Actor(OPERATOR), chunk_rows=2)
    before = await counts(employment_db)

    async with employment_db.acquire() as conn:
        again = await import_file(conn, path, SETTINGS, Actor("Someone Else"))
    assert again.already_finished and again.rows_this_run == 0
    assert again.run == first.run
    assert [refusal.line for refusal in again.refusals] == [refusal.line for refusal in first.refusals] == [7]

    # The same citizens in another file (another hash): enrolled already, nothing new is made.
    other = write(tmp_path / "again.csv", *[good_row(n) for n in range(5, 0, -1)])
    async with employment_db.acquire() as conn:
        second = await import_file(conn, other, SETTINGS, Actor(OPERATOR))
    assert (second.run.enrolled, second.run.already_enrolled, second.run.plans_made) == (0, 5, 0)
    assert await counts(employment_db) == before


async def test_an_enrolled_citizen_whose_plan_differs_is_refused_and_left_as_it_was(
    employment_db: asyncpg.Pool, tmp_path: Path
) -> None:
    async with employment_db.acquire() as conn:
        await import_file(conn, write(tmp_path / "a.csv", good_row(1)), SETTINGS, Actor(OPERATOR))
    before = await counts(employment_db)
    changed = f"{cpr(1)},sygedagpenge,,2026-09-01,Et andet mål.,,,,,,"
    refused: list[Refusal] = []
    async with employment_db.acquire() as conn:
        result = await import_file(
            conn, write(tmp_path / "b.csv", changed), SETTINGS, Actor(OPERATOR), on_refused=refused.append
        )
    assert [(r.line, "the job plan is at version 1" in r.reason) for r in refused] == [(2, True)]
    assert result.run.refused == 1
    assert await counts(employment_db) == before
    assert await employment_db.fetchval("SELECT target_group FROM citizen") == "kontanthjaelp"


# -- the same as the API ----------------------------------------------------------------------


def api_client(pool: asyncpg.Pool) -> httpx.AsyncClient:
    """The caseworkers' routes on the given database, called by a caseworker named OPERATOR."""
    app = FastAPI()
    app.state.runtime = SimpleNamespace(pool=pool, settings=SETTINGS)
    app.include_router(citizens_http.router)
    caseworker = typing.get_args(citizens_http.Caseworker)[1].dependency  # the token check
    app.dependency_overrides[caseworker] = lambda: Caller(
        subject="ida", roles=frozenset({"employment-caseworker"}), team="Jobcenter Nord", name=OPERATOR
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://employment")


async def state_of(pool: asyncpg.Pool, citizen_ref: str) -> dict[str, Any]:
    """Everything stored about one citizen, without what differs between any two (reference,
    CPR number, event ids, times, chain links)."""

    async def rows(query: str) -> list[dict[str, Any]]:
        return [dict(row) for row in await pool.fetch(query, citizen_ref)]

    outbox = await pool.fetch(
        "SELECT event_type, topic, header_names, header_values, payload, traceparent FROM outbox"
        " WHERE record_key = $1 ORDER BY seq",
        citizen_ref.encode(),
    )
    varying = {"ce_id", "ce_time", "ce_subject", "ce_correlationid"}
    return {
        "citizen": await rows(
            "SELECT target_group, profile_tags, enrolled_on, enrolled_by FROM citizen WHERE citizen_ref = $1"
        ),
        "course": await rows(
            "SELECT started_on, cadence_months, cadence_note, last_follow_up_on, postponed_until,"
            " postponed_on, lead_department, reminded_for, overdue_announced_for, next_alarm_on, lead_since"
            " FROM contact_course WHERE citizen_ref = $1"
        ),
        "plans": await rows(
            "SELECT version, goal, activities, revised_by FROM job_plan_version WHERE citizen_ref = $1"
        ),
        "events": [
            {
                "type": row["event_type"],
                "topic": row["topic"],
                "payload": {
                    name: value for name, value in json.loads(row["payload"]).items() if name != "conflict_id"
                },
                "headers": {
                    name: value
                    for name, value in zip(row["header_names"], row["header_values"], strict=True)
                    if name not in varying
                },
                "traceparent": row["traceparent"],
            }
            for row in outbox
        ],
        "shares": await rows(
            "SELECT information, recipient, basis, shared_by FROM audit.share_log WHERE citizen_ref = $1"
        ),
        "tasks": await rows("SELECT kind, title, due_on FROM caseworker_task WHERE citizen_ref = $1"),
    }


async def test_an_imported_citizen_is_what_the_api_makes_of_the_same_case(
    employment_db: asyncpg.Pool, tmp_path: Path
) -> None:
    plan = {
        "expected_version": 0,
        "goal": "Job i lager og logistik.",
        "activities": [
            {
                "category": "mentor",
                "title": "Mentorstøtte",
                "starts_on": "2026-12-01",
                "hours_per_week": 2.0,
                "provider_id": "aktivcenter-nord",
            }
        ],
    }
    async with api_client(employment_db) as api:
        enrolled = await api.post(
            "/v1/citizens",
            json={
                "cpr": cpr(1),
                "target_group": "kontanthjaelp",
                "profile_tags": ["physically-ill", "maybe-suited-for-activation"],
                "in_contact_course_since": "2026-09-01",
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.json()["citizen_ref"] == ref(1)
        planned = await api.post(f"/v1/citizens/{ref(1)}/job-plan", json=plan)
        assert planned.status_code == 201, planned.text

    async with employment_db.acquire() as conn:
        result = await import_file(
            conn, write(tmp_path / "cases.csv", good_row(2)), SETTINGS, Actor(OPERATOR)
        )
    assert result.run.enrolled == 1 and result.run.plans_made == 1

    through_api, imported = await state_of(employment_db, ref(1)), await state_of(employment_db, ref(2))
    assert imported == through_api
    assert [event["type"] for event in imported["events"]] == [JobPlanRevised.event_type]
    assert imported["shares"] == [
        {
            "information": "job-plan-summary",
            "recipient": "social",
            "basis": SETTINGS.job_plan_share_basis,
            "shared_by": OPERATOR,
        }
    ]

    # Enrolling again through the import behaves as enrolling again through the API.
    async with api_client(employment_db) as api:
        again = await api.post("/v1/citizens", json={"cpr": cpr(1), "target_group": "sygedagpenge"})
        assert again.status_code == 200
    async with employment_db.acquire() as conn:
        await import_file(
            conn, write(tmp_path / "again.csv", f"{cpr(2)},sygedagpenge,,,,,,,,,"), SETTINGS, Actor(OPERATOR)
        )
    assert await state_of(employment_db, ref(2)) == await state_of(employment_db, ref(1))


async def test_a_plan_that_conflicts_with_the_social_plan_held_already_raises_what_the_api_raises(
    employment_db: asyncpg.Pool, tmp_path: Path
) -> None:
    """The social department may share its plan before the jobcenter enrols the citizen."""
    summary = SocialPlanRevised(
        plan_version=1,
        goal="Stabil boligsituation og regelmæssig behandling.",
        measures=[SocialMeasure(category=MeasureCategory.HOUSING_SUPPORT, starts_on=date(2026, 11, 1))],
        weekly_capacity_hours=1,
    )
    async with employment_db.acquire() as conn:
        for citizen in (ref(1), ref(2)):
            envelope = envelope_for(summary, citizen, legal_basis="consent: samtykke-handleplan")
            async with conn.transaction():
                await plans.social_plan_revised(conn, envelope, summary)
    async with api_client(employment_db) as api:
        await api.post("/v1/citizens", json={"cpr": cpr(1), "target_group": "kontanthjaelp"})
        planned = await api.post(
            f"/v1/citizens/{ref(1)}/job-plan",
            json={
                "expected_version": 0,
                "goal": "Job i lager og logistik.",
                "activities": [
                    {
                        "category": "mentor",
                        "title": "Mentorstøtte",
                        "starts_on": "2026-12-01",
                        "hours_per_week": 2,
                        "provider_id": "aktivcenter-nord",
                    }
                ],
            },
        )
        assert planned.status_code == 201, planned.text
    row = f"{cpr(2)},kontanthjaelp,,,{PLAN}"
    async with employment_db.acquire() as conn:
        await import_file(conn, write(tmp_path / "cases.csv", row), SETTINGS, Actor(OPERATOR))

    imported = await state_of(employment_db, ref(2))
    assert [event["type"] for event in imported["events"]] == [
        JobPlanRevised.event_type,
        PlanConflictDetected.event_type,
    ]
    assert len(imported["tasks"]) == 1
    through_api = await state_of(employment_db, ref(1))
    assert {key: imported[key] for key in ("plans", "events", "shares", "tasks")} == {
        key: through_api[key] for key in ("plans", "events", "shares", "tasks")
    }


async def test_the_service_role_imports_into_protected_audit_tables(infra: Infra, tmp_path: Path) -> None:
    """After `samspil audit protect` the service's role may only insert into the audit log (COPY
    needs no more), and the chain holds."""
    url = infra.create_service_database("employment")
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        await migrate(pool, "samspil.runtime.migrations", "employment.migrations")
        admin = await admin_connect(infra.admin_dsn, urlsplit(url).path.lstrip("/"))
        try:
            await protect(admin, urlsplit(url).username or "")
        finally:
            await admin.close()
        async with pool.acquire() as conn:
            assert await protection_status(conn) == "ok"
            result = await import_file(
                conn,
                write(tmp_path / "cases.csv", *[good_row(n) for n in range(1, 8)]),
                SETTINGS,
                Actor(OPERATOR),
                chunk_rows=3,
            )
            assert (result.run.enrolled, result.run.plans_made) == (7, 7)
            assert (
                await conn.fetchval("SELECT count(*) FROM audit.share_log WHERE shared_by = $1", OPERATOR)
                == 7
            )
            assert [report.broken for report in await verify_chains(conn)] == [None]
    finally:
        await pool.close()


async def test_a_spreadsheet_export_with_semicolons_a_byte_order_mark_and_crlf_is_read(
    employment_db: asyncpg.Pool, tmp_path: Path
) -> None:
    """What Excel writes in a Danish locale; a quoted goal over two lines counts two lines."""
    rows = [
        HEADER.replace(",", ";"),
        f'{cpr(1)};kontanthjaelp;;;"Job i lager;\r\nog logistik.";;;;;;',
        f"{cpr(2)};dagpenge;;;;;;;;;",
        f"{cpr(3)};sygedagpenge;;;;;;;;;",
    ]
    path = tmp_path / "eksport.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    refused: list[Refusal] = []
    async with employment_db.acquire() as conn:
        result = await import_file(conn, path, SETTINGS, Actor(OPERATOR), on_refused=refused.append)
    assert [(r.line, r.reason.split(":")[0]) for r in refused] == [(4, "target_group")]
    assert (result.run.enrolled, result.run.plans_made, result.run.last_line) == (2, 1, 5)
    assert await employment_db.fetchval("SELECT goal FROM job_plan_version") == "Job i lager;\r\nog logistik."


async def test_a_file_is_imported_by_one_import_at_a_time(
    employment_db: asyncpg.Pool, tmp_path: Path
) -> None:
    path = write(tmp_path / "cases.csv", good_row(1))
    async with employment_db.acquire() as first, employment_db.acquire() as second:
        assert await onboarding_rows.lock_file(first, file_digest(path)[0])
        with pytest.raises(BadFile, match="another import of this file is running"):
            await import_file(second, path, SETTINGS, Actor(OPERATOR))
    assert await employment_db.fetchval("SELECT count(*) FROM citizen") == 0


def test_a_database_failure_stops_the_import_in_one_line_without_the_values_it_quotes(
    employment_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(employment_url)

    async def refuse_the_fifth_citizen() -> None:
        conn = await asyncpg.connect(employment_url)
        try:
            await conn.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF NEW.cpr = '0101304005' THEN"
                "  RAISE unique_violation USING MESSAGE = 'no ' || NEW.cpr,"
                "   DETAIL = 'Key (cpr)=(' || NEW.cpr || ')';"
                " END IF; RETURN NEW; END $$;"
                " CREATE TRIGGER refuse BEFORE INSERT ON citizen FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        finally:
            await conn.close()

    asyncio.run(refuse_the_fifth_citizen())
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", employment_url)
    monkeypatch.setenv("SAMSPIL_CITIZEN_REF_KEY", KEY)
    path = write(tmp_path / "cases.csv", *[good_row(n) for n in range(1, 8)])

    assert main(["import", str(path), "--actor", OPERATOR, "--chunk-rows", "2"]) == 1

    err = capsys.readouterr().err
    [stopped] = [line for line in err.splitlines() if "the import stopped" in line]
    assert "UniqueViolationError" in stopped and "run the same command again" in stopped
    assert not contains_cpr(err) and "4005" not in err and "Traceback" not in err
