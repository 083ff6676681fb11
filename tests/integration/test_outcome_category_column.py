"""A completion's outcome category is kept in a column of its own (employment migration 023,
gateway migration 019), never in reason_category: the versions before read reason_category
strictly as a ReasonCategory, and would answer 500 on a completion holding a CompletionCategory
there. Both services' writers leave it null on a completion; the migrations move the categories
already written there; the API still shows each as the change's outcome_category."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

from employment.adapters import repository as employment_repository
from employment.entrypoints.http import StatusChangeOut
from employment.service_layer.handlers import follow_provider_step
from provider_gateway.adapters import repository as gateway_repository
from provider_gateway.service_layer.referral_steps import take_step
from provider_gateway.service_layer.views import StatusChange
from samspil.runtime.db import _sql_files, migrate
from schemas.envelope import Envelope
from schemas.referrals import ReasonCategory, ReferralCompleted
from tests.infra import Infra

CITIZEN = "k1:" + "cd" * 32
PROVIDER = "aktivcenter-1"
RUNTIME = "samspil.runtime.migrations"
# Each service's referral, in progress: (migrations, the one that moves the column, the insert).
SERVICES = {
    "employment": (
        "employment.migrations",
        "023_outcome_category_column.sql",
        "INSERT INTO referral (referral_id, citizen_ref, provider_id, offer_kind, offer_title,"
        " hours_per_week, starts_on, citizen_display_name, status)"
        " VALUES ($1, $2, $3, 'activation', 'Tilbud', 10, '2026-01-01', 'Borger', 'in-progress')",
    ),
    "gateway": (
        "provider_gateway.migrations",
        "019_outcome_category_column.sql",
        "INSERT INTO referral_view (referral_id, citizen_ref, provider_id, citizen_display_name,"
        " offer_title, hours_per_week, starts_on, status)"
        " VALUES ($1, $2, $3, 'Borger', 'Tilbud', 10, '2026-01-01', 'in-progress')",
    ),
}
CATEGORIES = (
    "SELECT status, reason_category, outcome_category FROM referral_status_change WHERE referral_id = $1"
)
COMPLETED = ReferralCompleted(
    referral_id=uuid.uuid4(),
    provider_id=PROVIDER,
    occurred_on=date(2026, 3, 2),
    outcome="Fik job som lagermedarbejder.",
    outcome_category="job",
)


def read_as_the_versions_before(reason_category: str | None) -> None:
    """As the versions before 022 (employment) and 018 (gateway) read a status change's
    reason_category: strictly, as a ReasonCategory."""
    if reason_category is not None:
        ReasonCategory(reason_category)


async def _migrated(infra: Infra, service: str, before: str | None = None) -> asyncpg.Pool:
    """A new database of the service's, migrated (only up to ``before``, when given)."""
    package, _, _ = SERVICES[service]
    pool = await asyncpg.create_pool(infra.create_database(service), min_size=1, max_size=2)
    if before is None:
        await migrate(pool, RUNTIME, package)
        return pool
    await migrate(pool, RUNTIME)
    for file in _sql_files(package):
        if file.name < before:
            await pool.execute(file.read_text(encoding="utf-8"))
            await pool.execute("INSERT INTO schema_migration (name) VALUES ($1)", f"{package}/{file.name}")
    return pool


async def test_the_gateway_keeps_a_completions_category_out_of_the_reason_category(infra: Infra) -> None:
    pool = await _migrated(infra, "gateway")
    try:
        await pool.execute(SERVICES["gateway"][2], COMPLETED.referral_id, CITIZEN, PROVIDER)
        details = {"occurred_on": COMPLETED.occurred_on, "reason": None, "outcome": COMPLETED.outcome}
        async with pool.acquire() as conn, conn.transaction():
            await take_step(
                conn,
                PROVIDER,
                COMPLETED.referral_id,
                ReferralCompleted,
                {**details, "outcome_category": "job"},
            )
        [row] = await pool.fetch(CATEGORIES, COMPLETED.referral_id)
        assert dict(row) == {"status": "completed", "reason_category": None, "outcome_category": "job"}
        read_as_the_versions_before(row["reason_category"])
        [change] = await gateway_repository.status_history(pool, COMPLETED.referral_id)
        shown = StatusChange.of(dict(change))
        assert (shown.reason_category, shown.outcome_category) == (None, "job")
    finally:
        await pool.close()


async def test_the_jobcenter_keeps_a_completions_category_out_of_the_reason_category(infra: Infra) -> None:
    pool = await _migrated(infra, "employment")
    try:
        await pool.execute(SERVICES["employment"][2], COMPLETED.referral_id, CITIZEN, PROVIDER)
        envelope = Envelope(
            source="/samspil/provider-gateway",
            type=COMPLETED.event_type,
            subject=CITIZEN,
            dataschema=COMPLETED.dataschema,
            correlationid=uuid.uuid4(),
        )
        async with pool.acquire() as conn, conn.transaction():
            await follow_provider_step(conn, envelope, COMPLETED)
        [row] = await pool.fetch(CATEGORIES, COMPLETED.referral_id)
        assert dict(row) == {"status": "completed", "reason_category": None, "outcome_category": "job"}
        read_as_the_versions_before(row["reason_category"])
        [change] = await employment_repository.status_history(pool, COMPLETED.referral_id)
        shown = StatusChangeOut.of(dict(change))
        assert (shown.reason_category, shown.outcome_category) == (None, "job")
    finally:
        await pool.close()


@pytest.mark.parametrize("service", list(SERVICES))
async def test_the_migration_moves_a_completions_category_out_of_the_reason_category(
    infra: Infra, service: str
) -> None:
    """What the version before wrote (a completion's category in reason_category) is moved to
    outcome_category; a cancellation's reason category stays where it is."""
    package, migration, insert_referral = SERVICES[service]
    pool = await _migrated(infra, service, before=migration)
    try:
        completed, cancelled = uuid.uuid4(), uuid.uuid4()
        for referral_id, status, category in [
            (completed, "completed", "job"),
            (cancelled, "cancelled", "citizen-moved"),
        ]:
            await pool.execute(insert_referral, referral_id, CITIZEN, PROVIDER)
            await pool.execute(
                "INSERT INTO referral_status_change"
                " (referral_id, status, changed_by, occurred_on, reason_category)"
                " VALUES ($1, $2, 'provider', '2026-03-02', $3)",
                referral_id,
                status,
                category,
            )
        # The moving migration first; later ones (e.g. the audit chain's lanes) follow it.
        applied = await migrate(pool, RUNTIME, package)
        assert applied[0] == f"{package}/{migration}", applied
        assert dict(await pool.fetchrow(CATEGORIES, completed) or {}) == {
            "status": "completed",
            "reason_category": None,
            "outcome_category": "job",
        }
        assert dict(await pool.fetchrow(CATEGORIES, cancelled) or {}) == {
            "status": "cancelled",
            "reason_category": "citizen-moved",
            "outcome_category": None,
        }
    finally:
        await pool.close()
