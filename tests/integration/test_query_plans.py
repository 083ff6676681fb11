"""Every query on the hot paths finds its rows through an index on the large tables, so its cost
follows the rows it touches, not how many citizens, referrals or tasks there are (the benchmark's
"cost with size" section measures the rates; this proves the plans).

The services' own code runs, on a connection that stands in for its connection or pool and,
before each statement, runs ``EXPLAIN (ANALYZE, BUFFERS)`` of it with the same parameters in a
savepoint it rolls back; a changed query is therefore checked as it is. The databases hold the
benchmark's own seed (a few thousand rows a table) with statistics, and sequential scans are
switched off, so a plan that still reads a large table whole has no index to use. Each path's
test is run again with the index it needs dropped, and must then find the scan: the check
can fail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from benchmarks import size
from benchmarks.setup import CASEWORKER
from employment.adapters import kpis as employment_kpis
from employment.adapters import onboarding
from employment.adapters import repository as employment_repository
from employment.domain.contact_course import add_months
from employment.service_layer import handlers as employment_handlers
from employment.service_layer.course import CourseRules, announce_due_follow_ups
from employment.service_layer.messages import danish_today
from employment.service_layer.progress_reports import (
    ProgressRules,
    announce_progress_reports,
    change_reporting_interval,
)
from provider_gateway.adapters import portal_people
from provider_gateway.adapters import repository as gateway_repository
from provider_gateway.adapters import webhooks as webhook_store
from provider_gateway.domain.credentials import TokenClaims
from provider_gateway.domain.inbox import InboxTab
from provider_gateway.entrypoints import http as gateway_http
from provider_gateway.service_layer import handlers as gateway_handlers
from provider_gateway.service_layer import keys as gateway_keys
from provider_gateway.service_layer import reading as gateway_reading
from provider_gateway.service_layer import reports as gateway_reports
from samspil.runtime.db import migrate
from samspil.runtime.deadletters import list_dead_letters
from samspil.runtime.paging import make_cursor
from samspil.runtime.reports import Period
from samspil.runtime.tasks import TaskFilters, parse_task_key, task_key
from schemas.common import Department
from schemas.decisions import ReportOutcome, ReportReceived
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted, AbsenceReason
from social.adapters import kpis as social_kpis
from social.adapters import overview as social_overview
from social.adapters import repository as social_repository
from tests.infra import Infra

# Rows per table: the benchmark provider's 2,000 referrals are a twentieth of them, so the
# planner weighs its index as it would with many providers.
SEEDED = 40_000
# The social database's lists that grow, seeded here (the benchmark does not load it).
_ROWS = "FROM generate_series($1::int, $2::int - 1) AS i"
_CITIZEN = size.citizen_ref_sql("i")
SOCIAL_SEED = [
    f"""INSERT INTO citizen (citizen_ref, cpr, enrolled_by)
    SELECT {_CITIZEN}, lpad(i::text, 10, '0'), 'plans-seed' {_ROWS}""",
    f"""INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, status, due_on, details,
        created_at, assignee)
    SELECT md5('social-task-' || i)::uuid, {_CITIZEN}, 'apply-ruling', 'Følg afgørelsen',
           CASE WHEN i % 4 = 0 THEN 'closed' ELSE 'open' END, current_date + (i % 30) - 10, '{{}}',
           now() - interval '1 day',
           CASE WHEN i < {size.CASEWORKER_TASKS} THEN '{CASEWORKER}' ELSE 'caseworker-' || (i % 2000) END
    {_ROWS}""",
    f"""INSERT INTO case_note (citizen_ref, author, text)
    SELECT {size.citizen_ref_sql("i % 20000")}, 'plans-seed', 'Note' {_ROWS}""",
    # Half of them the social team's own decisions on providers' requests (all settled long ago).
    f"""INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,
        submission_id, target_plan, decision, reason, object_by, status)
    SELECT md5('decision-' || i)::uuid, {_CITIZEN}, CASE WHEN i % 2 = 0 THEN 'social' ELSE 'employment' END,
           'team', CASE WHEN i % 2 = 0 THEN md5('submission-' || i)::uuid END, 'job-plan', 'approved',
           'r', current_date, 'objected' {_ROWS}""",
    # Most disputes are ruled: the open ones are a few.
    f"""INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,
        social_position, rule_by, status)
    SELECT md5('dispute-' || i)::uuid, md5('decision-' || i)::uuid, {_CITIZEN}, 'social', 'e', 's',
           current_date + (i % 60) - 30, CASE WHEN i % 500 = 0 THEN 'open' ELSE 'ruled' END {_ROWS}""",
    f"""INSERT INTO social_follow_up (citizen_ref, kind, held_on, recorded_by)
    SELECT {_CITIZEN}, 'meeting', current_date - (i % 300), 'plans-seed' {_ROWS}""",
    f"""INSERT INTO readiness_assessment (citizen_ref, ready, assessment, assessed_by)
    SELECT {_CITIZEN}, i % 3 = 0, 'Vurdering', 'plans-seed' {_ROWS}""",
]
SOCIAL_TABLES = (
    "citizen",
    "caseworker_task",
    "case_note",
    "decision_review",
    "dispute",
    "social_follow_up",
    "readiness_assessment",
)
LARGE_TABLES = frozenset(
    size.EMPLOYMENT_TABLES
    + size.GATEWAY_TABLES
    + SOCIAL_TABLES
    + (
        "provider_report",
        "case_note",
        "webhook_delivery",
        "webhook_message",
        "follow_up_overdue",
        "referral_status_change",
        "dead_letter",
        "portal_person",
        "portal_session",
        "audit_log",
    )
)
# A scan on a large table may pass over a few rows it then filters out (a caseworker's closed
# tasks), never a large share of the table.
FILTERED_AT_MOST = 100
SCANS = frozenset({"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan"})


class _RolledBack(Exception):
    pass


class PlanRecorder:
    """Stands in for a service's connection or pool; runs each statement for real, after its
    EXPLAIN (ANALYZE, BUFFERS), which runs in a savepoint that is rolled back."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[tuple[str, dict[str, Any]]] = []

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        try:
            async with self.conn.transaction():
                plan = await self.conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args)
                self.plans.append((query, json.loads(plan)[0]["Plan"]))
                raise _RolledBack
        except _RolledBack:
            pass

    async def execute(self, query: str, *args: Any) -> str:
        await self._explain(query, args)
        result: str = await self.conn.execute(query, *args)
        return result

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        await self._explain(query, args)
        return await self.conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        await self._explain(query, args)
        return await self.conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        await self._explain(query, args)
        return await self.conn.fetchval(query, *args)

    def transaction(self) -> Any:
        return self.conn.transaction()

    def acquire(self) -> _Acquired:
        return _Acquired(self)


class _Acquired:
    def __init__(self, recorder: PlanRecorder) -> None:
        self.recorder = recorder

    async def __aenter__(self) -> PlanRecorder:
        return self.recorder

    async def __aexit__(self, *exc: object) -> None:
        return None


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def scans_that_grow_with_size(plans: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each scan of a large table that reads it whole or filters out much of it."""
    problems = []
    for query, plan in plans:
        for node in _nodes(plan):
            table, kind = node.get("Relation Name"), node["Node Type"]
            if table not in LARGE_TABLES or kind not in SCANS:
                continue
            if kind == "Seq Scan":
                problems.append(f"Seq Scan on {table}: {query}")
            elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node:
                problems.append(f"{kind} on {table} without an index condition (reads it whole): {query}")
            # EXPLAIN gives the rows removed per run of the node: a scan run once per row of
            # another (200 endpoints, say) removes that many times as many.
            removed = node.get("Actual Loops", 1) * (
                node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
            )
            if removed > FILTERED_AT_MOST:
                problems.append(f"{kind} on {table} filtered out {removed} rows: {query}")
    return problems


@dataclass(frozen=True)
class Databases:
    employment: str
    gateway: str
    social: str


@pytest.fixture(scope="module")
async def seeded(infra: Infra) -> Databases:
    """Both databases, migrated as the services do, seeded with the benchmark's own rows."""
    urls = Databases(
        infra.create_database("plans_employment"),
        infra.create_database("plans_gateway"),
        infra.create_database("plans_social"),
    )
    for url, package, statements, tables in (
        (urls.employment, "employment.migrations", size.EMPLOYMENT_SEED, size.EMPLOYMENT_TABLES),
        (urls.gateway, "provider_gateway.migrations", size.GATEWAY_SEED, size.GATEWAY_TABLES),
        (urls.social, "social.migrations", SOCIAL_SEED, SOCIAL_TABLES),
    ):
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        assert pool is not None
        try:
            await migrate(pool, "samspil.runtime.migrations", package)
            async with pool.acquire() as conn:
                await size.seed(conn, statements, 0, SEEDED)
                await size.analyze(conn, tables)
        finally:
            await pool.close()
    return urls


@dataclass
class Recorders:
    employment: PlanRecorder
    gateway: PlanRecorder
    social: PlanRecorder

    @property
    def plans(self) -> list[tuple[str, dict[str, Any]]]:
        return self.employment.plans + self.gateway.plans + self.social.plans


@pytest.fixture
async def recorders(seeded: Databases) -> AsyncIterator[Recorders]:
    """A recorder on each database, in a transaction rolled back after the test."""
    connections = [await asyncpg.connect(url) for url in (seeded.employment, seeded.gateway, seeded.social)]
    transactions = [conn.transaction() for conn in connections]
    try:
        for conn, transaction in zip(connections, transactions, strict=True):
            await conn.execute("SET enable_seqscan = off")
            await transaction.start()
        yield Recorders(*(PlanRecorder(conn) for conn in connections))
    finally:
        for conn, transaction in zip(connections, transactions, strict=True):
            await transaction.rollback()
            await conn.close()


def _notice(row: int) -> AbsenceNoticeSubmitted:
    return AbsenceNoticeSubmitted(
        submission_id=uuid.uuid4(),
        referral_id=size.seeded_uuid("referral", row),
        provider_id=size.PROVIDER,
        absent_from=date(2026, 11, 16),
        reason=AbsenceReason.ILLNESS,
    )


async def report_ingest(db: Recorders) -> None:
    """POST .../absence-notices: the token's client, then the Idempotency-Key record, the
    submission and its outbox row in one transaction."""
    await db.gateway.conn.execute("INSERT INTO provider_client VALUES ($1, $1, 'unused')", size.PROVIDER)
    assert await gateway_repository.active_client(db.gateway, size.PROVIDER) is not None  # type: ignore[arg-type]
    notice = _notice(size.provider_row(7))

    async def work(conn: Any) -> tuple[int, gateway_reports.SubmissionAccepted]:
        await gateway_reports.record_report(conn, size.PROVIDER, "absence-notice", notice)
        return 202, gateway_reports.SubmissionAccepted(submission_id=notice.submission_id)

    key = gateway_keys.RequestKey(f"h1:{uuid.uuid4().hex}", "h")
    outcome = await gateway_keys.first_or_repeat(db.gateway, size.PROVIDER, key, work)  # type: ignore[arg-type]
    assert outcome.answer.status_code == 202


async def report_to_task(db: Recorders) -> None:
    """The employment service receives the notice and makes the task; the gateway records the
    acknowledgement on the submission and in the provider's feed."""
    row = size.provider_row(9)
    submission_id = size.seeded_uuid("submission", row)
    notice = _notice(row).model_copy(update={"submission_id": submission_id})
    envelope = Envelope(
        source="/samspil/provider-gateway",
        type=notice.event_type,
        subject=size.seeded_citizen_ref(row),
        dataschema=notice.dataschema,
        correlationid=submission_id,
    )
    await employment_handlers.receive_report(
        db.employment,  # type: ignore[arg-type]
        envelope,
        notice,
        2,
        CourseRules(),
        ProgressRules(),
    )
    assert await employment_repository.task_for_source(db.employment, envelope.id) is not None  # type: ignore[arg-type]
    answer, received = acknowledgement_of(row, submission_id, notice.referral_id)
    await gateway_handlers.record_acknowledgement(db.gateway, answer, received)  # type: ignore[arg-type]


def acknowledgement_of(
    row: int, submission_id: uuid.UUID, referral_id: uuid.UUID
) -> tuple[Envelope, ReportReceived]:
    """The employment service's acknowledgement of a seeded row's submission, in its envelope."""
    received = ReportReceived(
        submission_id=submission_id,
        referral_id=referral_id,
        provider_id=size.PROVIDER,
        department=Department.EMPLOYMENT,
        outcome=ReportOutcome.TASK_CREATED,
        task_due_on=date(2026, 12, 3),
    )
    answer = Envelope(
        source="/samspil/employment",
        type=received.event_type,
        subject=size.seeded_citizen_ref(row),
        dataschema=received.dataschema,
        correlationid=submission_id,
    )
    return answer, received


async def acknowledgements_set_wise(db: Recorders) -> None:
    """The gateway takes a run of acknowledgements at once: their submissions locked and read,
    then updated with the feed entries written (record_department_answers)."""
    run = []
    for row in (size.provider_row(11), size.provider_row(12)):
        run.append(
            acknowledgement_of(row, size.seeded_uuid("submission", row), size.seeded_uuid("referral", row))
        )
    await gateway_handlers.record_department_answers(db.gateway, run)  # type: ignore[arg-type]
    acknowledged = await db.gateway.conn.fetchval(
        "SELECT count(*) FROM submission WHERE submission_id = ANY($1::uuid[]) AND status = 'acted-on'",
        [received.submission_id for _, received in run],
    )
    assert acknowledged == 2


async def overdue_scan(db: Recorders) -> None:
    """The contact-course scheduler's round, over courses made due for it."""
    await db.employment.conn.execute(size.MAKE_DUE, SEEDED - 40, SEEDED)
    announced = await announce_due_follow_ups(db.employment, danish_today(), CourseRules(), batch=25)  # type: ignore[arg-type]
    assert announced == 40


async def progress_report_scan(db: Recorders) -> None:
    """The scheduler's progress-report round, over referrals whose report is overdue."""
    await db.employment.conn.execute(
        "UPDATE referral SET progress_period_from = current_date - 40, progress_alarm_on = current_date - 1"
        " WHERE referral_id IN (SELECT referral_id FROM referral ORDER BY referral_id LIMIT 40)"
    )
    announced = await announce_progress_reports(db.employment, danish_today(), ProgressRules(), batch=25)  # type: ignore[arg-type]
    assert announced == 40


async def progress_chase_withdrawn(db: Recorders) -> None:
    """POST /v1/referrals/{id}/reporting-interval on a referral whose report was announced
    overdue: the new due date is ahead, so the chase tasks of the referral close (as a report
    arriving closes them)."""
    await progress_report_scan(db)
    db.employment.plans.clear()
    referral_id = await db.employment.conn.fetchval(
        "SELECT referral_id FROM referral ORDER BY referral_id LIMIT 1"
    )
    await change_reporting_interval(db.employment, referral_id, 60, ProgressRules(), danish_today())  # type: ignore[arg-type]
    assert not await db.employment.conn.fetchval(
        "SELECT count(*) FROM caseworker_task WHERE referral_id = $1 AND kind = 'chase-progress-report'"
        " AND status = 'open'",
        referral_id,
    )


async def caseworker_task_list(db: Recorders) -> None:
    """GET /v1/tasks?assignee=...&status=open, as the employment API asks it: its first page and
    the page after it (the cursor's key condition is read through the same index)."""
    filters = TaskFilters(status="open", assignee=CASEWORKER)
    first = await employment_repository.list_tasks(db.employment, filters, None, 10)  # type: ignore[arg-type]
    assert len(first) == 11
    after = parse_task_key(task_key(first[9]))
    second = await employment_repository.list_tasks(db.employment, filters, after, 10)  # type: ignore[arg-type]
    assert second and second[0]["task_id"] == first[10]["task_id"]


async def citizen_task_list(db: Recorders) -> None:
    """GET /v1/tasks?citizen_ref=...: a citizen's tasks, as the case system shows the case."""
    filters = TaskFilters(citizen_ref=size.seeded_citizen_ref(size.provider_row(11)))
    tasks = await employment_repository.list_tasks(db.employment, filters, None, 100)  # type: ignore[arg-type]
    assert len(tasks) == 1


async def case_history_page(db: Recorders) -> None:
    """GET /v1/citizens/{ref}/history: a page of the citizen's reports, after a cursor."""
    await report_to_task(db)
    db.employment.plans.clear()
    citizen_ref = size.seeded_citizen_ref(size.provider_row(9))
    [report] = await employment_repository.reports_for_citizen(db.employment, citizen_ref, None, 10)  # type: ignore[arg-type]
    after = (report["received_at"], report["submission_id"])
    assert await employment_repository.reports_for_citizen(db.employment, citizen_ref, after, 10) == []  # type: ignore[arg-type]


async def social_task_list(db: Recorders) -> None:
    """The social team's GET /v1/tasks?assignee=...&status=open: first page and the next."""
    filters = TaskFilters(status="open", assignee=CASEWORKER)
    first = await social_repository.list_tasks(db.social, filters, None, 10)  # type: ignore[arg-type]
    assert len(first) == 11
    after = parse_task_key(task_key(first[9]))
    assert await social_repository.list_tasks(db.social, filters, after, 10)  # type: ignore[arg-type]


async def social_citizen_task_list(db: Recorders) -> None:
    filters = TaskFilters(citizen_ref=size.seeded_citizen_ref(11))
    assert len(await social_repository.list_tasks(db.social, filters, None, 100)) == 1  # type: ignore[arg-type]


async def social_notes(db: Recorders) -> None:
    """GET /v1/citizens/{ref}/notes on the social side, after a cursor."""
    first = await social_repository.notes(db.social, size.seeded_citizen_ref(11), 0, 1)  # type: ignore[arg-type]
    assert len(first) == 2
    assert await social_repository.notes(db.social, size.seeded_citizen_ref(11), first[0]["id"], 1)  # type: ignore[arg-type]


async def social_case_overview(db: Recorders) -> None:
    """GET /v1/citizens/{ref} on the social side: every part of the case, each read by the citizen."""
    case = await social_overview.case_overview(db.social, size.seeded_citizen_ref(11))  # type: ignore[arg-type]
    assert len(case["decisions"]) == 1
    assert len(case["disputes"]) == 1
    assert len(case["follow_ups"]) == 1
    assert len(case["readiness_assessments"]) == 1


async def open_disputes(db: Recorders) -> None:
    """The specialist unit's GET /v1/disputes (open ones): first page and the next."""
    today = danish_today()
    first = await social_repository.disputes(db.social, True, today, (date.min, uuid.UUID(int=0)), 10)  # type: ignore[arg-type]
    assert len(first) == 11
    last = first[9]
    assert await social_repository.disputes(db.social, True, today, (last["rule_by"], last["dispute_id"]), 10)  # type: ignore[arg-type]


async def provider_feed(db: Recorders) -> None:
    """GET /v1/feed?cursor=...: the gateway's route itself, on the recorder as its pool, for one
    provider among many. (For a provider with a large share of all rows the planner may rightly
    walk the feed in position order and skip the others' rows; with many providers it must not.)"""
    provider = "bench-p-7"
    after = await db.gateway.conn.fetchval(
        "SELECT position FROM provider_feed WHERE provider_id = $1 ORDER BY position OFFSET 10 LIMIT 1",
        provider,
    )
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(pool=db.gateway)))
    )
    claims = TokenClaims(provider, provider, 0)
    page = await gateway_http.feed(request, claims, cursor=make_cursor([after]), after=None, limit=100)  # type: ignore[arg-type]
    assert page.items and all(item.seq > after for item in page.items)


async def portal_inbox_tab(db: Recorders) -> None:
    """The portal's inbox, one tab newest change first and its next page, for a provider most of
    whose referrals are in another tab."""
    await db.gateway.conn.execute(
        "UPDATE referral_view SET status = 'accepted', updated_at = now() - i * interval '1 minute'"
        " FROM generate_series(0, 29) AS i WHERE referral_id = md5('referral-' || i * $1)::uuid",
        size.PROVIDER_SPREAD,
    )
    await db.gateway.conn.execute("ANALYZE referral_view")
    first = await gateway_reading.inbox(
        db.gateway,  # type: ignore[arg-type]
        size.PROVIDER,
        tab=InboxTab.ACTIVE,
        search="",
        before=None,
        limit=25,
    )
    assert len(first.items) == 25 and first.next_before is not None
    rest = await gateway_reading.inbox(
        db.gateway,  # type: ignore[arg-type]
        size.PROVIDER,
        tab=InboxTab.ACTIVE,
        search="",
        before=first.next_before,
        limit=25,
    )
    assert len(rest.items) == 5 and rest.next_before is None


async def portal_inbox_search(db: Recorders) -> None:
    """The portal's inbox searched by the citizen's display name, among many names."""
    await db.gateway.conn.execute(
        "UPDATE referral_view SET citizen_display_name = 'Borger ' || substr(md5(referral_id::text), 1, 8)"
    )
    await db.gateway.conn.execute("ANALYZE referral_view")
    wanted = size.seeded_uuid("referral", size.provider_row(11))
    name = await db.gateway.conn.fetchval(
        "SELECT citizen_display_name FROM referral_view WHERE referral_id = $1", wanted
    )
    found = await gateway_reading.inbox(
        db.gateway,  # type: ignore[arg-type]
        size.PROVIDER,
        tab=None,
        search=name.split()[1][:6],
        before=None,
        limit=25,
    )
    assert wanted in [item.referral_id for item in found.items]


async def portal_start_page(db: Recorders) -> None:
    """The portal's start page: what came in the provider's feed since the person last marked it
    seen (first visit, marking seen, and the next), with the citizens' names, for a provider among
    many."""
    person = uuid.uuid4()
    first = await gateway_reading.what_changed(db.gateway, person, size.PROVIDER)  # type: ignore[arg-type]
    assert len(first.new) == gateway_reading.NEW_SHOWN and first.more_new
    assert first.new[0].citizen_display_name == "Seeded citizen"
    await gateway_reading.mark_seen(db.gateway, person, size.PROVIDER, first.new[0].seq)  # type: ignore[arg-type]
    again = await gateway_reading.what_changed(db.gateway, person, size.PROVIDER)  # type: ignore[arg-type]
    assert again.new == [] and len(again.earlier) == gateway_reading.EARLIER_SHOWN


async def portal_referral_page(db: Recorders) -> None:
    """The portal's referral page: the referral, its history and shared measures, and the
    reports sent on it."""
    referral_id = size.seeded_uuid("referral", size.provider_row(5))
    found = await gateway_reading.referral_detail(db.gateway, size.PROVIDER, referral_id, date.today())  # type: ignore[arg-type]
    assert found is not None
    reports = await gateway_reading.reports_on_referral(db.gateway, size.PROVIDER, referral_id)  # type: ignore[arg-type]
    assert len(reports) == 1


# Webhook deliveries as they pile up: 40,000 to 200 endpoints, all delivered but the last 2,000
# (waiting to be retried), of which the last 20 are due (each for a referral of its own).
WEBHOOK_SEED = [
    """INSERT INTO webhook_endpoint (endpoint_id, provider_id, url, event_kinds, secret_sealed)
    SELECT md5('endpoint-' || i)::uuid, 'bench-p-' || i, 'https://hooks.example/' || i,
           ARRAY['referral-requested'], '\\x00'::bytea
    FROM generate_series(0, 199) AS i""",
    """INSERT INTO webhook_message (message_id, provider_id, kind, referral_id, data, at)
    SELECT md5('message-' || i)::uuid, 'bench-p-' || (i % 200), 'referral-requested',
           md5('referral-' || i)::uuid, '{}', now()
    FROM generate_series(0, 39999) AS i""",
    """INSERT INTO webhook_delivery (delivery_id, endpoint_id, message_id, ordering_key, status,
        next_attempt_at)
    SELECT md5('delivery-' || i)::uuid, md5('endpoint-' || (i % 200))::uuid, md5('message-' || i)::uuid,
           md5('referral-' || i), CASE WHEN i >= 38000 THEN 'pending' ELSE 'delivered' END,
           now() + CASE WHEN i >= 39980 THEN interval '-1 minute' ELSE interval '1 hour' END
    FROM generate_series(0, 39999) AS i""",
    # Each provider has an enabled client (one with none is pushed nothing), one a disabled one too.
    """INSERT INTO provider_client (client_id, provider_id, secret_hash, disabled_at)
    SELECT 'bench-c-' || i, 'bench-p-' || (i % 200), 'x', CASE WHEN i >= 200 THEN now() END
    FROM generate_series(0, 399) AS i""",
    "ANALYZE webhook_endpoint, webhook_message, webhook_delivery, provider_client",
]


async def webhook_deliveries(db: Recorders) -> None:
    """A delivery worker's claim of what is due, and a provider's list of an endpoint's
    deliveries, among many deliveries to many endpoints."""
    for statement in WEBHOOK_SEED:
        await db.gateway.conn.execute(statement)
    claimed = await webhook_store.claim_due(db.gateway, 50, timedelta(minutes=1))  # type: ignore[arg-type]
    assert len(claimed) == 20
    endpoint_id = await db.gateway.conn.fetchval("SELECT md5('endpoint-7')::uuid")
    listed = await webhook_store.deliveries_for_endpoint(db.gateway, endpoint_id, None, 101)  # type: ignore[arg-type]
    assert len(listed) == 101


async def dead_letter_list(db: Recorders) -> None:
    """`samspil dlq list`: a page of the pending dead letters after a cursor, among many replayed
    long ago, and a page of all of them (--all)."""
    await db.gateway.conn.execute(
        "INSERT INTO dead_letter (consumer, topic, kafka_partition, kafka_offset, header_names,"
        " header_values, payload, event_id, reason, error, attempts, replayed_at)"
        " SELECT 'provider-gateway', 't', 0, i, '{}', '{}', '', 'e-' || i, 'rejected', 'e', 1,"
        " CASE WHEN i < 39900 THEN now() END FROM generate_series(0, 39999) AS i"
    )
    await db.gateway.conn.execute("ANALYZE dead_letter")
    first = await list_dead_letters(db.gateway, limit=20)  # type: ignore[arg-type]
    assert len(first.items) == 20 and first.next_cursor is not None
    second = await list_dead_letters(db.gateway, cursor=first.next_cursor, limit=20)  # type: ignore[arg-type]
    assert second.items[0].id > first.items[-1].id
    every = await list_dead_letters(db.gateway, include_replayed=True, cursor=second.next_cursor, limit=20)  # type: ignore[arg-type]
    assert len(every.items) == 20


PORTAL_SEED = [
    """INSERT INTO portal_person (person_id, provider_id, email, display_name, password_hash)
    SELECT md5('person-' || i)::uuid, 'bench-p-' || (i % 200), 'person-' || i || '@example.org',
           'Person ' || i, 'x'
    FROM generate_series(0, 39999) AS i""",
    # Most sessions have ended long since (expired ones are swept at each login), a few are live.
    """INSERT INTO portal_session (session_hash, person_id, last_seen_at, expires_at)
    SELECT md5('session-' || i), md5('person-' || i)::uuid, now(),
           now() + CASE WHEN i >= 39990 THEN interval '-1 minute' ELSE interval '1 hour' END
    FROM generate_series(0, 39999) AS i""",
    "ANALYZE portal_person, portal_session",
]


async def portal_page(db: Recorders) -> None:
    """Every portal page: its session looked up (by its hash) and marked used, with its person."""
    for statement in PORTAL_SEED:
        await db.gateway.conn.execute(statement)
    session_hash = await db.gateway.conn.fetchval("SELECT md5('session-7')")
    person = await portal_people.use_session(db.gateway, session_hash, timedelta(minutes=30))  # type: ignore[arg-type]
    assert person is not None and person["email"] == "person-7@example.org"


async def portal_login(db: Recorders) -> None:
    """POST /portal/login: the attempt counted on the person by e-mail address (any case), the
    count reset while the person still has the checked hash, expired sessions swept, a new session
    (only while they still have it)."""
    for statement in PORTAL_SEED:
        await db.gateway.conn.execute(statement)
    person = await portal_people.login_attempt(db.gateway, "Person-7@Example.org", 5, timedelta(minutes=15))  # type: ignore[arg-type]
    assert person is not None
    stored = await portal_people.login_succeeded(db.gateway, person["person_id"], person["password_hash"])  # type: ignore[arg-type]
    assert stored == person["password_hash"]
    await portal_people.forget_expired_sessions(db.gateway)  # type: ignore[arg-type]
    started = await portal_people.start_session(
        db.gateway,  # type: ignore[arg-type]
        "new-session",
        person["person_id"],
        timedelta(hours=1),
        stored,
    )
    assert started


async def employment_kpi_report(db: Recorders) -> None:
    """GET /v1/reports/kpis on the employment service: every figure over a month, per team."""
    today = danish_today()
    period = Period.last_days(today)
    figures = await employment_kpis.read(
        db.employment, period, "Jobcenter Nord, team 3", today, add_months(today, -12)
    )
    assert figures.follow_ups_overdue_now == 0 and figures.parked_citizens == 0


async def employment_kpi_referrals_ended(db: Recorders) -> None:
    """The KPIs' referrals ended by outcome, party and category (the reason's, or a completion's
    outcome's: the report's and the gauges' one statement), among many status changes."""
    today = danish_today()
    await db.employment.conn.execute(
        "INSERT INTO referral_status_change"
        " (referral_id, status, changed_by, occurred_on, reason_category, outcome_category)"
        " SELECT referral_id, 'rejected', 'provider', $1::date - 400, 'provider-capacity', NULL FROM referral"
        " UNION ALL"
        " (SELECT referral_id, 'cancelled', 'jobcenter', $1, 'citizen-moved', NULL FROM referral LIMIT 5)"
        " UNION ALL"
        " (SELECT referral_id, 'completed', 'provider', $1, NULL, 'job' FROM referral LIMIT 5)",
        today,
    )
    await db.employment.conn.execute("ANALYZE referral_status_change")
    ended = await employment_kpis.referrals_ended(db.employment, Period.last_days(today))
    assert {e.category for e in ended} >= {"citizen-moved", "job"}


async def employment_kpi_overdue_now(db: Recorders) -> None:
    """The KPIs' follow-ups overdue now (and the overdue gauge's query alike)."""
    await db.employment.conn.execute(size.MAKE_DUE, SEEDED - 40, SEEDED)
    assert await employment_kpis.follow_ups_overdue_now(db.employment, danish_today()) == 40


async def employment_kpi_parked(db: Recorders) -> None:
    """The KPIs' count of citizens in the parked report."""
    assert await employment_kpis.parked_citizens(db.employment, add_months(danish_today(), -12)) == 0


async def social_kpi_report(db: Recorders) -> None:
    """GET /v1/reports/kpis on the social service: every figure over a month, per team."""
    today = danish_today()
    figures = await social_kpis.read(db.social, Period.last_days(today), "Socialcenter Vest, team 2", today)
    assert figures.disputes_ruled.total == 0 and figures.disputes_overdue_now == 0


async def audit_chain_lane(db: Recorders) -> None:
    """The chain trigger's look-up of its lane's last row, on every audit row the gateway writes
    (runtime migration 011_audit_chain_lanes.sql): the statements the trigger runs are seen in
    auto_explain's plans of nested statements, sent to this connection as notices."""
    conn = db.gateway.conn
    # Rows in all 16 lanes, as many writers leave them: written with the triggers off (no hashes
    # to compute for the look-up), rolled back with the test.
    await conn.execute("ALTER TABLE audit.audit_log DISABLE TRIGGER USER")
    await conn.execute(
        "INSERT INTO audit.audit_log (method, path, status, outcome, chain_lane, chain_seq, chain_hash)"
        " SELECT 'GET', '/v1/referrals', 200, 'ok', i % 16, i / 16 + 1, md5(i::text)"
        " FROM generate_series(0, $1::int - 1) AS i",
        SEEDED,
    )
    await conn.execute("ALTER TABLE audit.audit_log ENABLE TRIGGER USER")
    await conn.execute("ANALYZE audit.audit_log")
    notices: list[str] = []

    def heard(_: object, message: asyncpg.PostgresLogMessage) -> None:
        notices.append(str(message))

    conn.add_log_listener(heard)
    await conn.execute(
        "LOAD 'auto_explain'; SET LOCAL auto_explain.log_min_duration = 0;"
        " SET LOCAL auto_explain.log_nested_statements = on; SET LOCAL auto_explain.log_analyze = on;"
        " SET LOCAL auto_explain.log_format = json; SET LOCAL auto_explain.log_level = notice"
    )
    await conn.execute(
        "INSERT INTO audit.audit_log (method, path, status, outcome) VALUES ('GET', '/v1/x', 200, 'ok')"
    )
    await conn.execute("SET LOCAL auto_explain.log_min_duration = -1")
    conn.remove_log_listener(heard)
    for notice in notices:
        explained = json.loads(notice[notice.index("{") :])
        db.gateway.plans.append((explained["Query Text"], explained["Plan"]))
    assert any("chain_lane = $1" in query for query, _ in db.gateway.plans), notices


async def import_chunk(db: Recorders) -> None:
    """`samspil import`: a chunk's citizens looked up (and locked) by CPR number, the new ones
    enrolled, the current plans and the profiles of those enrolled already read and replaced."""
    enrolled = await db.employment.conn.fetch("SELECT cpr FROM citizen ORDER BY citizen_ref LIMIT 5")
    new = [f"311299{n:04d}" for n in range(5)]
    known = await onboarding.lock_enrolled(db.employment, [row["cpr"] for row in enrolled] + new)  # type: ignore[arg-type]
    assert len(known) == 5
    citizens = [
        onboarding.NewCitizen(f"k1:new-{cpr}", cpr, "kontanthjaelp", [], danish_today()) for cpr in new
    ]
    assert len(await onboarding.insert_citizens(db.employment, citizens, "plans")) == 5  # type: ignore[arg-type]
    assert await onboarding.current_plans(db.employment, list(known.values())) == {}  # type: ignore[arg-type]
    profiles = [(ref, "kontanthjaelp", ["again"]) for ref in known.values()]
    await onboarding.update_profiles(db.employment, profiles)  # type: ignore[arg-type]


@dataclass(frozen=True)
class HotPath:
    run: Callable[[Recorders], Awaitable[None]]
    # What takes away the index the path relies on: (database, DDL).
    without_index: tuple[str, str]


HOT_PATHS = {
    "audit chain lane": HotPath(audit_chain_lane, ("gateway", "DROP INDEX audit.audit_log_chain")),
    "report ingest": HotPath(
        report_ingest,
        # The inbox's index too: PostgreSQL 18 would skip-scan it on (provider_id, referral_id).
        (
            "gateway",
            "ALTER TABLE referral_view DROP CONSTRAINT referral_view_pkey CASCADE;"
            " DROP INDEX referral_view_inbox",
        ),
    ),
    "report to task": HotPath(
        report_to_task, ("gateway", "ALTER TABLE submission DROP CONSTRAINT submission_pkey CASCADE")
    ),
    "acknowledgements set-wise": HotPath(
        acknowledgements_set_wise,
        ("gateway", "ALTER TABLE submission DROP CONSTRAINT submission_pkey CASCADE"),
    ),
    "overdue scan": HotPath(overdue_scan, ("employment", "DROP INDEX contact_course_alarm")),
    "progress report scan": HotPath(
        progress_report_scan, ("employment", "DROP INDEX referral_progress_alarm")
    ),
    "progress chase withdrawn": HotPath(
        progress_chase_withdrawn, ("employment", "DROP INDEX caseworker_task_open_by_referral")
    ),
    "caseworker task list": HotPath(
        caseworker_task_list, ("employment", "DROP INDEX caseworker_task_by_assignee_page")
    ),
    "citizen task list": HotPath(
        citizen_task_list, ("employment", "DROP INDEX caseworker_task_by_citizen_page")
    ),
    "case history": HotPath(case_history_page, ("employment", "DROP INDEX provider_report_by_citizen_page")),
    "provider feed": HotPath(
        provider_feed,
        ("gateway", "DROP INDEX provider_feed_by_provider; DROP INDEX provider_feed_by_position"),
    ),
    "portal inbox tab": HotPath(portal_inbox_tab, ("gateway", "DROP INDEX referral_view_inbox")),
    "portal inbox search": HotPath(portal_inbox_search, ("gateway", "DROP INDEX referral_view_name_search")),
    "portal start page": HotPath(
        portal_start_page,
        ("gateway", "DROP INDEX provider_feed_by_provider; DROP INDEX provider_feed_by_position"),
    ),
    "portal referral page": HotPath(portal_referral_page, ("gateway", "DROP INDEX submission_by_referral")),
    "social task list": HotPath(social_task_list, ("social", "DROP INDEX social_task_by_assignee_page")),
    "social citizen task list": HotPath(
        social_citizen_task_list, ("social", "DROP INDEX social_task_by_citizen_page")
    ),
    "social notes": HotPath(social_notes, ("social", "DROP INDEX case_note_by_citizen")),
    "social case overview": HotPath(
        social_case_overview, ("social", "DROP INDEX decision_review_by_citizen")
    ),
    "social case overview disputes": HotPath(
        social_case_overview, ("social", "DROP INDEX dispute_by_citizen")
    ),
    "social case overview follow-ups": HotPath(
        social_case_overview, ("social", "DROP INDEX social_follow_up_by_citizen")
    ),
    "social case overview readiness": HotPath(
        social_case_overview, ("social", "DROP INDEX readiness_assessment_by_citizen")
    ),
    "open disputes": HotPath(open_disputes, ("social", "DROP INDEX social_dispute_open_page")),
    "webhook deliveries": HotPath(webhook_deliveries, ("gateway", "DROP INDEX webhook_delivery_due")),
    "dead letter list": HotPath(dead_letter_list, ("gateway", "DROP INDEX dead_letter_pending_page")),
    "portal page": HotPath(
        portal_page, ("gateway", "ALTER TABLE portal_session DROP CONSTRAINT portal_session_pkey CASCADE")
    ),
    "portal login": HotPath(portal_login, ("gateway", "DROP INDEX portal_person_email")),
    "portal expired sessions": HotPath(portal_login, ("gateway", "DROP INDEX portal_session_expiry")),
    "employment kpi report": HotPath(
        employment_kpi_report, ("employment", "DROP INDEX caseworker_task_closed")
    ),
    "employment kpi referrals ended": HotPath(
        employment_kpi_referrals_ended, ("employment", "DROP INDEX referral_status_change_ended_by_category")
    ),
    "employment kpi overdue now": HotPath(
        employment_kpi_overdue_now, ("employment", "DROP INDEX contact_course_due")
    ),
    "social kpi report": HotPath(social_kpi_report, ("social", "DROP INDEX dispute_ruled")),
    "social kpi disputes overdue": HotPath(
        social_kpi_report, ("social", "DROP INDEX social_dispute_open_page")
    ),
    "social kpi plan changes": HotPath(social_kpi_report, ("social", "DROP INDEX decision_review_final")),
    "employment kpi progress reports": HotPath(
        employment_kpi_report,
        # The citizen's page index too: PostgreSQL 18 would skip-scan it on received_at.
        (
            "employment",
            "DROP INDEX provider_report_progress_by_time; DROP INDEX provider_report_by_citizen_page",
        ),
    ),
    "employment kpi progress overdue": HotPath(
        employment_kpi_report, ("employment", "DROP INDEX referral_progress_overdue")
    ),
    "import chunk": HotPath(
        import_chunk,
        (
            "employment",
            "ALTER TABLE citizen DROP CONSTRAINT citizen_pkey CASCADE, DROP CONSTRAINT citizen_cpr_key",
        ),
    ),
    "employment kpi parked": HotPath(
        employment_kpi_parked, ("employment", "DROP INDEX citizen_by_enrolment")
    ),
}


@pytest.mark.parametrize("name", HOT_PATHS)
async def test_every_query_on_the_hot_path_reads_the_large_tables_through_an_index(
    name: str, recorders: Recorders
) -> None:
    await HOT_PATHS[name].run(recorders)
    assert recorders.plans, "no statement was recorded"
    assert scans_that_grow_with_size(recorders.plans) == []


@pytest.mark.parametrize("name", HOT_PATHS)
async def test_without_its_index_the_hot_path_is_caught_reading_a_table_whole(
    name: str, recorders: Recorders
) -> None:
    path = HOT_PATHS[name]
    database, ddl = path.without_index
    await getattr(recorders, database).conn.execute(ddl)
    await path.run(recorders)
    assert scans_that_grow_with_size(recorders.plans) != []
