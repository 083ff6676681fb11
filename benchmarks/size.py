"""Cost flat with size: the hot paths at a small and a large number of citizens.

The databases are seeded set-wise in SQL (``generate_series``), not through the API: citizens,
their contact courses, referrals and caseworker tasks in the employment database; the same
referrals as the gateway's referral views, a submission, an idempotency record and a feed item
each in the gateway's database. Row ``i`` is the same citizen and referral in both databases.
The seed is grown from the small size to the large one, so the same rows are measured twice.

What is measured at each size is the same amount of work for the same answer: the benchmark
provider (``bench-size``) owns the same 2,000 referrals at both sizes (every fourth of the
first 8,000 rows) and sends its notices on 200 of them; the benchmark caseworker has the same
50 tasks; the same number of courses is due for the overdue scan. Only the other citizens,
providers and caseworkers grow.

CPR numbers are made up, valid in form (a real birth date, 1930-1957, then a serial) and only
in the employment service's citizen table, where the table requires one.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import httpx

from benchmarks import setup
from benchmarks.raw import row
from samspil.local.runner import LocalStack
from samspil.runtime.db import Connection
from samspil.runtime.paging import make_cursor

PROVIDER = "bench-size"
PROVIDER_REFERRALS = 2000
# The benchmark provider's referrals are every fourth row of the first 8,000, between other
# providers' as they would be, so its feed cannot be read in order of seq alone.
PROVIDER_SPREAD = 4
NOTICE_REFERRALS = 200
CASEWORKER_TASKS = 50  # rows 0..49 are the benchmark caseworker's tasks
OTHER_PROVIDERS = 500
OTHER_CASEWORKERS = 2000
TOLERANCE = 0.20


def citizen_ref_sql(i: str) -> str:
    """The seeded citizen reference of row ``i``: key id and 64 hex digits, as the real ones."""
    return f"'k1:' || md5('citizen-' || {i}) || md5('ref-' || {i})"


def uuid_sql(kind: str, i: str) -> str:
    return f"md5('{kind}-' || {i})::uuid"


def provider_sql(i: str) -> str:
    other = f"'bench-p-' || ({i} % {OTHER_PROVIDERS})"
    ours = f"{i} < {PROVIDER_SPREAD * PROVIDER_REFERRALS} AND {i} % {PROVIDER_SPREAD} = 0"
    return f"CASE WHEN {ours} THEN '{PROVIDER}' ELSE {other} END"


def provider_row(k: int) -> int:
    """The row of the benchmark provider's ``k``-th referral."""
    return k * PROVIDER_SPREAD


EMPLOYMENT_SEED = [
    f"""INSERT INTO citizen (citizen_ref, cpr, target_group, enrolled_on, enrolled_by)
    SELECT {citizen_ref_sql("i")},
           to_char(date '1930-01-01' + (i % 10000), 'DDMMYY') || lpad((i / 10000)::text, 4, '0'),
           'kontanthjaelp', current_date - 60, 'bench-seed'
    FROM generate_series($1::int, $2::int - 1) AS i""",
    # Due in 1-3 months; the alarm (14 days before) is in the future, so none is due yet.
    f"""INSERT INTO contact_course (citizen_ref, started_on, cadence_months, lead_department, next_alarm_on)
    SELECT {citizen_ref_sql("i")}, current_date - (i % 60), 3, 'employment',
           (current_date - (i % 60) + interval '3 months')::date - 14
    FROM generate_series($1::int, $2::int - 1) AS i""",
    f"""INSERT INTO referral (referral_id, citizen_ref, provider_id, offer_kind, offer_title,
        hours_per_week, starts_on, citizen_display_name, status)
    SELECT {uuid_sql("referral", "i")}, {citizen_ref_sql("i")}, {provider_sql("i")}, 'activation',
           'Seeded offer', 10, current_date - 10, 'Seeded citizen', 'requested'
    FROM generate_series($1::int, $2::int - 1) AS i""",
    f"""INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, status, due_on, referral_id,
        provider_id, source_event_id, source_time, details, created_at, assignee)
    SELECT {uuid_sql("task", "i")}, {citizen_ref_sql("i")}, 'recontact-citizen', 'Re-contact the citizen',
           CASE WHEN i % 4 = 0 THEN 'closed' ELSE 'open' END, current_date + (i % 30) - 10,
           {uuid_sql("referral", "i")}, {provider_sql("i")}, {uuid_sql("event", "i")}, now(),
           jsonb_build_object('submission_id', {uuid_sql("submission", "i")}), now() - interval '1 day',
           CASE WHEN i < {CASEWORKER_TASKS} THEN '{setup.CASEWORKER}'
                ELSE 'caseworker-' || (i % {OTHER_CASEWORKERS}) END
    FROM generate_series($1::int, $2::int - 1) AS i""",
]

GATEWAY_SEED = [
    f"""INSERT INTO referral_view (referral_id, provider_id, citizen_ref, citizen_display_name,
        offer_title, hours_per_week, starts_on, status)
    SELECT {uuid_sql("referral", "i")}, {provider_sql("i")}, {citizen_ref_sql("i")}, 'Seeded citizen',
           'Seeded offer', 10, current_date - 10, 'requested'
    FROM generate_series($1::int, $2::int - 1) AS i""",
    f"""INSERT INTO submission (submission_id, provider_id, referral_id, kind)
    SELECT {uuid_sql("submission", "i")}, {provider_sql("i")}, {uuid_sql("referral", "i")}, 'absence-notice'
    FROM generate_series($1::int, $2::int - 1) AS i""",
    f"""INSERT INTO idempotency_key (provider_id, key, request_hash, status_code, response)
    SELECT {provider_sql("i")}, 'h1:' || md5('key-' || i) || md5('key2-' || i), md5('hash-' || i), 202,
           jsonb_build_object('submission_id', {uuid_sql("submission", "i")})
    FROM generate_series($1::int, $2::int - 1) AS i""",
    f"""INSERT INTO provider_feed (provider_id, kind, referral_id)
    SELECT {provider_sql("i")}, 'referral-requested', {uuid_sql("referral", "i")}
    FROM generate_series($1::int, $2::int - 1) AS i""",
]
EMPLOYMENT_TABLES = ("citizen", "contact_course", "referral", "caseworker_task")
GATEWAY_TABLES = ("referral_view", "submission", "idempotency_key", "provider_feed")

# Courses made due for the overdue scan: started five months ago, never followed up, so
# overdue since about two months, and not yet announced.
MAKE_DUE = f"""UPDATE contact_course SET started_on = current_date - 150, next_alarm_on = current_date - 75,
    reminded_for = NULL, overdue_announced_for = NULL
    WHERE citizen_ref IN (SELECT {citizen_ref_sql("i")} FROM generate_series($1::int, $2::int - 1) AS i)"""


async def seed(conn: Connection, statements: list[str], first: int, end: int) -> None:
    """Rows ``first`` .. ``end - 1`` of each statement, in one transaction."""
    async with conn.transaction():
        for statement in statements:
            await conn.execute(statement, first, end)


async def analyze(conn: Connection, tables: tuple[str, ...]) -> None:
    """Statistics for the planner, and the vacuum a bulk load is owed (hint bits, visibility
    map), so the measurement neither pays for it on first touch nor shares the cores with
    autovacuum doing it."""
    for table in tables:
        await conn.execute(f"VACUUM (ANALYZE) {table}")


async def grow(env: Mapping[str, str], first: int, end: int) -> float:
    """Seed rows ``first`` .. ``end - 1`` in both databases (at once) and analyse; the seconds taken."""
    started = time.perf_counter()

    async def one(url: str, statements: list[str], tables: tuple[str, ...]) -> None:
        conn = await asyncpg.connect(url)
        try:
            step = 250_000  # a transaction at a time, so a large seed does not hold one for minutes
            for lower in range(first, end, step):
                await seed(conn, statements, lower, min(end, lower + step))
            await analyze(conn, tables)
        finally:
            await conn.close()

    await asyncio.gather(
        one(env["EMPLOYMENT_DATABASE_URL"], EMPLOYMENT_SEED, EMPLOYMENT_TABLES),
        one(env["PROVIDER_GATEWAY_DATABASE_URL"], GATEWAY_SEED, GATEWAY_TABLES),
    )
    return time.perf_counter() - started


def _md5(text: str) -> str:
    """As PostgreSQL's md5() of the same text, to name seeded rows from here."""
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a name, not a secret


def seeded_uuid(kind: str, i: int) -> uuid.UUID:
    """The id ``uuid_sql(kind, i)`` gives row ``i``."""
    return uuid.UUID(hex=_md5(f"{kind}-{i}"))


def seeded_citizen_ref(i: int) -> str:
    """The reference ``citizen_ref_sql(i)`` gives row ``i``."""
    return f"k1:{_md5(f'citizen-{i}')}{_md5(f'ref-{i}')}"


async def _concurrently(count: int, concurrency: int, one: Any) -> float:
    """Run ``one(index)`` ``count`` times with ``concurrency`` workers; the rate per second."""
    indexes = iter(range(count))

    async def worker() -> None:
        for index in indexes:
            await one(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def ingest_and_flow(
    stack: LocalStack, env: Mapping[str, str], notices: int, concurrency: int
) -> tuple[float, float]:
    """Absence notices on the benchmark provider's seeded referrals: POST -> 202 per second, and
    the flow rate (first submission received -> last task committed)."""
    rows = [provider_row(k) for k in range(NOTICE_REFERRALS)]
    referral_ids = [str(seeded_uuid("referral", i)) for i in rows]
    citizens = [seeded_citizen_ref(i) for i in rows]
    submissions: list[str] = []
    async with setup.notice_sender(stack, setup.provider_token(env, PROVIDER), concurrency) as gateway:

        async def one(index: int) -> None:
            submissions.append(await setup.post_notice(gateway, referral_ids[index % len(referral_ids)]))

        ingest = await _concurrently(notices, concurrency, one)
    gateway_db = await asyncpg.connect(env["PROVIDER_GATEWAY_DATABASE_URL"])
    employment_db = await asyncpg.connect(env["EMPLOYMENT_DATABASE_URL"])
    try:
        first = await gateway_db.fetchval(
            "SELECT min(received_at) FROM submission WHERE submission_id = ANY($1::uuid[])", submissions
        )
        deadline = time.monotonic() + 300
        while True:
            counted = await employment_db.fetchrow(
                "SELECT count(*), max(created_at) FROM caseworker_task"
                " WHERE citizen_ref = ANY($1::text[]) AND details->>'submission_id' = ANY($2::text[])",
                citizens,
                submissions,
            )
            assert counted is not None
            done, last = counted
            if done >= len(submissions) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    finally:
        await gateway_db.close()
        await employment_db.close()
    if done < len(submissions):
        raise RuntimeError(f"{done} of {len(submissions)} tasks committed within 300 s")
    return ingest, len(submissions) / (last - first).total_seconds()


async def overdue_scan(env: Mapping[str, str], first: int, due: int) -> float:
    """Courses announced per second by the contact-course scheduler's own scan (run here, on
    ``due`` courses made due for it, rows ``first`` ..); the service's scheduler is set not to
    run meanwhile (EMPLOYMENT_CONTACT_COURSE_SCAN_SECONDS)."""
    from employment.service_layer.course import CourseRules, announce_due_follow_ups
    from employment.service_layer.messages import danish_today

    pool = await asyncpg.create_pool(env["EMPLOYMENT_DATABASE_URL"], min_size=1, max_size=2)
    assert pool is not None
    try:
        await pool.execute(MAKE_DUE, first, first + due)
        started = time.perf_counter()
        announced = await announce_due_follow_ups(pool, danish_today(), CourseRules())
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
    if announced != due:
        raise RuntimeError(f"the scan announced {announced} of {due} due courses")
    return due / seconds


async def task_list(stack: LocalStack, env: Mapping[str, str], requests: int, concurrency: int) -> float:
    """GET /v1/tasks for the benchmark caseworker's open tasks, per second."""
    async with httpx.AsyncClient(
        base_url=stack.url("employment"),
        headers={"authorization": f"Bearer {setup.caseworker_token(env)}"},
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency),
    ) as employment:

        async def one(index: int) -> None:
            answer = await setup.send(
                employment,
                "GET",
                "/v1/tasks",
                params={"assignee": setup.CASEWORKER, "status": "open", "limit": 100},
            )
            assert answer.status_code == 200 and answer.json()["items"], answer.text

        return await _concurrently(requests, concurrency, one)


async def feed(stack: LocalStack, env: Mapping[str, str], requests: int, concurrency: int) -> float:
    """GET /v1/feed pages of 100 from random points in the benchmark provider's feed, per second."""
    gateway_db = await asyncpg.connect(env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        positions = [
            row["position"]
            for row in await gateway_db.fetch(
                "SELECT position FROM provider_feed WHERE provider_id = $1 ORDER BY position LIMIT $2",
                PROVIDER,
                PROVIDER_REFERRALS - 100,
            )
        ]
    finally:
        await gateway_db.close()
    picks = random.Random(12)
    async with setup.gateway_client(stack, setup.provider_token(env, PROVIDER), concurrency) as gateway:

        async def one(index: int) -> None:
            answer = await setup.send(
                gateway,
                "GET",
                "/v1/feed",
                params={"cursor": make_cursor([picks.choice(positions)]), "limit": 100},
            )
            assert answer.status_code == 200 and len(answer.json()["items"]) == 100, answer.text

        return await _concurrently(requests, concurrency, one)


async def hot_paths(stack: LocalStack, env: Mapping[str, str], size: int, args: Any) -> dict[str, float]:
    ingest, flow = await ingest_and_flow(stack, env, args.size_notices, args.concurrency)
    return {
        "ingest_per_s": ingest,
        "flow_per_s": flow,
        "overdue_scan_per_s": await overdue_scan(env, size - args.size_due, args.size_due),
        "task_list_per_s": await task_list(stack, env, args.size_requests, args.concurrency),
        "feed_per_s": await feed(stack, env, args.size_requests, args.concurrency),
    }


async def cost_with_size(
    stack: LocalStack, env: Mapping[str, str], args: Any, results: dict[str, Any]
) -> None:
    """Fill ``results`` as it goes: the small size's figures are kept should the large one fail."""
    small, large = args.size_small, args.size_large
    least = PROVIDER_SPREAD * PROVIDER_REFERRALS + args.size_due
    if small < least:
        raise ValueError(f"--size-small must be at least {least:,} (the provider's rows and the due courses)")
    await setup.add_provider_client(env, PROVIDER)
    results.update(small=small, large=large)
    results["seed_small_s"] = await grow(env, 0, small)
    results["at_small"] = await hot_paths(stack, env, small, args)
    results["seed_large_s"] = await grow(env, small, large)
    results["at_large"] = await hot_paths(stack, env, large, args)


LABELS = {
    "ingest_per_s": ("report ingest (POST -> 202)", "notices/s"),
    "flow_per_s": ("report -> task committed", "notices/s"),
    "overdue_scan_per_s": ("overdue scan (scheduler)", "courses/s"),
    "task_list_per_s": ("task list, one caseworker", "requests/s"),
    "feed_per_s": ("provider's feed (/v1/feed)", "requests/s"),
}


def report(s: dict[str, Any]) -> list[str]:
    if "at_small" not in s:
        return ["cost with size: not measured (failed before the small size's figures)"]
    small, large = s["small"], s["large"]
    at_large = s.get("at_large", {})
    lines = [
        f"cost with size: {small:,} and {large:,} citizens, courses, referrals and tasks "
        f"(seeded in {s['seed_small_s']:,.1f} s and {s.get('seed_large_s', float('nan')):,.1f} s more)",
        row("", f"{f'at {small:,}':>10}  {f'at {large:,}':>12}  large/small (target at least 0.80)"),
    ]
    for key, (label, unit) in LABELS.items():
        a, b = s["at_small"][key], at_large.get(key, float("nan"))
        # Faster at the large size is no cost of size: the small size runs first, on services
        # and a database cache still warming up (a second small run would tell them apart).
        verdict = "met" if b / a >= 1 - TOLERANCE else "NOT met"
        lines.append(row(f"  {label}", f"{a:>10,.0f}  {b:>12,.0f}  {b / a:>6.2f} {verdict:<8} {unit}"))
    return lines
