"""SQL for the gateway database, on the caller's connection and transaction."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import asyncpg

from provider_gateway.domain.submissions import SubmissionStatus
from samspil.runtime.db import Connection
from schemas.referrals import ReferralRequested

REFERRAL_COLUMNS = (
    "referral_id, provider_id, citizen_ref, citizen_display_name, offer_title, hours_per_week,"
    " starts_on, expected_end_on, status, updated_at, reporting_interval_days, progress_report_due_on,"
    " progress_report_overdue_since, jobcenter_contact"
)


async def upsert_referral(conn: Connection, citizen_ref: str, referral: ReferralRequested) -> None:
    await conn.execute(
        "INSERT INTO referral_view (referral_id, provider_id, citizen_ref, citizen_display_name,"
        " offer_title, hours_per_week, starts_on, expected_end_on, status, reporting_interval_days,"
        " jobcenter_contact) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'requested',$9,$10::jsonb)"
        " ON CONFLICT (referral_id) DO NOTHING",
        referral.referral_id,
        referral.provider_id,
        citizen_ref,
        referral.citizen_display_name,
        referral.offer.title,
        referral.offer.hours_per_week,
        referral.offer.starts_on,
        referral.offer.expected_end_on,
        referral.reporting_interval_days,
        referral.jobcenter_contact.model_dump_json(exclude_none=True),
    )


async def set_progress_schedule(
    conn: Connection,
    referral_id: uuid.UUID,
    *,
    interval_days: int | None = None,
    due_on: date | None,
    overdue_since: date | None,
) -> str | None:
    """Keep what the jobcenter says of the referral's next progress report (the interval only when
    it is given); the referral's provider, or None when the gateway does not know the referral."""
    provider_id: str | None = await conn.fetchval(
        "UPDATE referral_view SET reporting_interval_days = coalesce($2, reporting_interval_days),"
        " progress_report_due_on = $3, progress_report_overdue_since = $4, updated_at = now()"
        " WHERE referral_id = $1 RETURNING provider_id",
        referral_id,
        interval_days,
        due_on,
        overdue_since,
    )
    return provider_id


async def set_referral_status(
    conn: Connection,
    referral_id: uuid.UUID,
    status: str,
    changed_by: str,
    occurred_on: date,
    reason: str | None,
    reason_category: str | None = None,
    outcome_category: str | None = None,
) -> None:
    """A step in the referral's status history. ``reason_category`` is a ReasonCategory only
    (earlier versions read it strictly so): a completion's category goes in ``outcome_category``."""
    await conn.execute(
        "UPDATE referral_view SET status = $2, updated_at = now() WHERE referral_id = $1", referral_id, status
    )
    await conn.execute(
        "INSERT INTO referral_status_change"
        " (referral_id, status, changed_by, occurred_on, reason, reason_category, outcome_category)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        referral_id,
        status,
        changed_by,
        occurred_on,
        reason,
        reason_category,
        outcome_category,
    )


async def status_history(conn: Connection | asyncpg.Pool, referral_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT status, changed_by, occurred_on, reason, reason_category, outcome_category, recorded_at"
        " FROM referral_status_change"
        " WHERE referral_id = $1 ORDER BY id",
        referral_id,
    )


async def referral_by_id(conn: Connection, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {REFERRAL_COLUMNS} FROM referral_view WHERE referral_id = $1 FOR UPDATE", referral_id
    )


async def referral_for_provider(
    conn: Connection | asyncpg.Pool,
    referral_id: uuid.UUID,
    provider_id: str,
    *,
    lock: Literal["", "FOR UPDATE", "FOR SHARE"] = "",
) -> asyncpg.Record | None:
    """The referral if it is addressed to this provider; None otherwise, so the caller cannot
    tell someone else's referral from one that does not exist. ``lock``: to change its status
    (FOR UPDATE), or to act on the status it has until commit (FOR SHARE: reports to one
    referral go on side by side, a status change waits for them and they for it)."""
    return await conn.fetchrow(
        f"SELECT {REFERRAL_COLUMNS} FROM referral_view WHERE referral_id = $1 AND provider_id = $2 {lock}",
        referral_id,
        provider_id,
    )


async def referrals_for_provider(
    conn: asyncpg.Pool,
    provider_id: str,
    *,
    status: str | None,
    updated_since: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Oldest change first, keyset-paginated by (updated_at, referral_id)."""
    return await conn.fetch(
        f"SELECT {REFERRAL_COLUMNS} FROM referral_view WHERE provider_id = $1"
        " AND ($2::text IS NULL OR status = $2)"
        " AND ($3::timestamptz IS NULL OR updated_at >= $3)"
        " AND ($4::timestamptz IS NULL OR (updated_at, referral_id) > ($4, $5::uuid))"
        " ORDER BY updated_at, referral_id LIMIT $6",
        provider_id,
        status,
        updated_since,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def feed_for_provider(
    conn: Connection | asyncpg.Pool, provider_id: str, *, after: int, limit: int
) -> list[asyncpg.Record]:
    """The provider's feed entries after a position, in order. Positions are given at commit
    (migration 008), so every entry below the last one returned is already visible."""
    return await conn.fetch(
        "SELECT position AS seq, kind, referral_id, submission_id, data, at FROM provider_feed"
        " WHERE provider_id = $1 AND position > $2 ORDER BY position LIMIT $3",
        provider_id,
        after,
        limit,
    )


async def insert_feed_entry(
    conn: Connection,
    provider_id: str,
    kind: str,
    referral_id: uuid.UUID | None,
    submission_id: uuid.UUID | None,
    data: dict[str, Any],
) -> None:
    """A new entry in the provider's feed; it gets its position when the transaction commits."""
    await conn.execute(
        "INSERT INTO provider_feed (provider_id, kind, referral_id, submission_id, data)"
        " VALUES ($1, $2, $3, $4, $5::jsonb)",
        provider_id,
        kind,
        referral_id,
        submission_id,
        json.dumps(data),
    )


async def insert_submission(
    conn: Connection, submission_id: uuid.UUID, provider_id: str, referral_id: uuid.UUID, kind: str
) -> None:
    await conn.execute(
        "INSERT INTO submission (submission_id, provider_id, referral_id, kind) VALUES ($1,$2,$3,$4)",
        submission_id,
        provider_id,
        referral_id,
        kind,
    )


async def submission_for_update(conn: Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT provider_id, referral_id, kind, status, acknowledgements FROM submission"
        " WHERE submission_id = $1 FOR UPDATE",
        submission_id,
    )


async def add_acknowledgement(
    conn: Connection, submission_id: uuid.UUID, acknowledgement: dict[str, Any], status: SubmissionStatus
) -> None:
    """Add the acknowledgement and the status it leads to; each state reached (and every earlier
    one not yet reached) gets its time."""
    await conn.execute(
        "UPDATE submission SET acknowledgements = acknowledgements || $2::jsonb, status = $3,"
        " updated_at = now(),"
        " delivered_at = coalesce(delivered_at, CASE WHEN $4 >= 1 THEN now() END),"
        " acted_on_at = coalesce(acted_on_at, CASE WHEN $4 >= 2 THEN now() END),"
        " final_at = coalesce(final_at, CASE WHEN $4 >= 3 THEN now() END)"
        " WHERE submission_id = $1",
        submission_id,
        json.dumps([acknowledgement]),
        status.value,
        status.rank,
    )


async def submissions_for_update(conn: Connection, submission_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """The submissions (those that exist), locked, in one order whoever asks (no deadlock
    between two callers locking overlapping sets)."""
    return await conn.fetch(
        "SELECT submission_id, provider_id, referral_id, kind, status, acknowledgements FROM submission"
        " WHERE submission_id = ANY($1::uuid[]) ORDER BY submission_id FOR UPDATE",
        sorted(set(submission_ids)),
    )


@dataclass(frozen=True)
class Acknowledged:
    """What `add_acknowledgements` adds to one submission: its new acknowledgements, in order,
    and the status they lead to."""

    submission_id: uuid.UUID
    acknowledgements: list[dict[str, Any]]
    status: SubmissionStatus


@dataclass(frozen=True)
class FeedEntry:
    provider_id: str
    kind: str
    referral_id: uuid.UUID | None
    submission_id: uuid.UUID | None
    data: dict[str, Any]


# `add_acknowledgement` for several submissions, and `insert_feed_entry` for several entries (in
# their order: each row's seq, and so its position at commit, follows it; the row triggers fire
# in it), in one statement. The update may set each state's time at once for the highest status
# reached: now() is the transaction's time, so one update per acknowledgement would set the same.
# The submissions are named to the table by `= ANY($1)` as well as joined to the list: a generic
# plan made while a new database's tables are empty and never analysed (kept until they are)
# would otherwise join the list to a reading of the whole table; with it, it looks them up in the
# primary key whatever the statistics (tests/integration/test_plans_cached_while_empty.py).
_ACKNOWLEDGEMENTS_AND_FEED = """
WITH acknowledged AS (
    UPDATE submission AS s SET acknowledgements = s.acknowledgements || a.added::jsonb, status = a.status,
        updated_at = now(),
        delivered_at = coalesce(s.delivered_at, CASE WHEN a.reached >= 1 THEN now() END),
        acted_on_at = coalesce(s.acted_on_at, CASE WHEN a.reached >= 2 THEN now() END),
        final_at = coalesce(s.final_at, CASE WHEN a.reached >= 3 THEN now() END)
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS a(submission_id, added, status, reached)
    WHERE s.submission_id = a.submission_id AND s.submission_id = ANY($1::uuid[])
)
INSERT INTO provider_feed (provider_id, kind, referral_id, submission_id, data)
SELECT f.provider_id, f.kind, f.referral_id, f.submission_id, f.data::jsonb
FROM unnest($5::text[], $6::text[], $7::uuid[], $8::uuid[], $9::text[])
    WITH ORDINALITY AS f(provider_id, kind, referral_id, submission_id, data, n)
ORDER BY f.n
"""


async def add_acknowledgements(
    conn: Connection, acknowledged: list[Acknowledged], feed: list[FeedEntry]
) -> None:
    """Several submissions' new acknowledgements and statuses (as `add_acknowledgement`), and
    the feed entries they make (as `insert_feed_entry`, in this order), in one statement."""
    await conn.execute(
        _ACKNOWLEDGEMENTS_AND_FEED,
        [a.submission_id for a in acknowledged],
        [json.dumps(a.acknowledgements) for a in acknowledged],
        [a.status.value for a in acknowledged],
        [a.status.rank for a in acknowledged],
        [e.provider_id for e in feed],
        [e.kind for e in feed],
        [e.referral_id for e in feed],
        [e.submission_id for e in feed],
        [json.dumps(e.data) for e in feed],
    )


async def active_client(conn: asyncpg.Pool, client_id: str) -> asyncpg.Record | None:
    """The client unless it is disabled, with its secret's hash and its token generation (a
    token of an older generation is revoked)."""
    return await conn.fetchrow(
        "SELECT client_id, provider_id, secret_hash, token_generation FROM provider_client"
        " WHERE client_id = $1 AND disabled_at IS NULL",
        client_id,
    )


async def submission_for_provider(
    conn: Connection | asyncpg.Pool, submission_id: uuid.UUID, provider_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT submission_id, referral_id, kind, status, acknowledgements, received_at, updated_at,"
        " delivered_at, acted_on_at, final_at"
        " FROM submission WHERE submission_id = $1 AND provider_id = $2",
        submission_id,
        provider_id,
    )


async def share_for_update(conn: Connection, consent_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT citizen_ref, provider_id, plan_version, ended_on FROM provider_share"
        " WHERE consent_id = $1 FOR UPDATE",
        consent_id,
    )


async def store_share(
    conn: Connection,
    consent_id: uuid.UUID,
    citizen_ref: str,
    provider_id: str,
    plan_version: int,
    measures: list[dict[str, Any]],
    shared_until: date,
) -> None:
    await conn.execute(
        "INSERT INTO provider_share (consent_id, citizen_ref, provider_id, plan_version, measures,"
        " shared_until) VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
        " ON CONFLICT (consent_id) DO UPDATE SET plan_version = EXCLUDED.plan_version,"
        " measures = EXCLUDED.measures, shared_until = EXCLUDED.shared_until, updated_at = now()"
        # Never over an ended consent, even should an end slip in after the caller looked.
        " WHERE provider_share.ended_on IS NULL",
        consent_id,
        citizen_ref,
        provider_id,
        plan_version,
        json.dumps(measures),
        shared_until,
    )


async def end_share(
    conn: Connection, consent_id: uuid.UUID, citizen_ref: str, provider_id: str, ended_on: date, reason: str
) -> bool:
    """Empty the share and mark its consent ended; a consent not seen before is recorded as ended
    at once. False if it had ended already (the first end stands)."""
    ended: bool | None = await conn.fetchval(
        "INSERT INTO provider_share (consent_id, citizen_ref, provider_id, ended_on, end_reason)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (consent_id) DO UPDATE SET measures = '[]', ended_on = EXCLUDED.ended_on,"
        " end_reason = EXCLUDED.end_reason, updated_at = now() WHERE provider_share.ended_on IS NULL"
        " RETURNING true",
        consent_id,
        citizen_ref,
        provider_id,
        ended_on,
        reason,
    )
    return bool(ended)


async def measures_shared_with(
    conn: Connection | asyncpg.Pool, citizen_ref: str, provider_id: str, today: date
) -> list[list[dict[str, Any]]]:
    """The measures of each share in force for this citizen and this provider only. A consent
    runs out on its expiry date, as the social department counts it, so a share is not shown on
    its ``shared_until`` day even before the end of it arrives."""
    rows = await conn.fetch(
        "SELECT measures FROM provider_share WHERE citizen_ref = $1 AND provider_id = $2"
        " AND ended_on IS NULL AND shared_until > $3 ORDER BY consent_id",
        citizen_ref,
        provider_id,
        today,
    )
    return [json.loads(row["measures"]) for row in rows]


# Everything a provider's report writes, in one statement and so in one round trip and one
# implicit transaction: the client still active in its token's generation, the referral still
# the provider's, with the citizen the caller expects and open (share-locked, so a concurrent
# status change waits or is seen), then the Idempotency-Key with its answer, the submission,
# its outbox row (the outbox's trigger wakes the relay at commit) and the audit row. Each insert
# reads the one before, so either all happen or none does: no client, no open referral or a key
# used before writes nothing, and the caller takes the long way (`record_report_at_once` returns
# False). The outbox row is the one `samspil.runtime.outbox.add_event` writes (its
# `outbox_columns`; a test compares the two).
_REPORT_AT_ONCE = """
WITH client AS (
    SELECT 1 FROM provider_client
    WHERE client_id = $1 AND provider_id = $2 AND token_generation = $3 AND disabled_at IS NULL
), referral AS (
    SELECT 1 FROM referral_view
    WHERE referral_id = $4 AND provider_id = $2 AND citizen_ref = $5 AND NOT status = ANY($6::text[])
    AND EXISTS (SELECT 1 FROM client)
    FOR SHARE
), fresh AS (
    INSERT INTO idempotency_key (provider_id, key, request_hash, status_code, response)
    SELECT $2, $7, $8, $9, $10::jsonb FROM referral
    ON CONFLICT DO NOTHING RETURNING 1
), submission AS (
    INSERT INTO submission (submission_id, provider_id, referral_id, kind)
    SELECT $11, $2, $4, $12 FROM fresh
), outbox AS (
    INSERT INTO outbox (event_id, event_type, topic, record_key, header_names, header_values, payload,
                        traceparent, tracestate)
    SELECT $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM fresh
), audit AS (
    INSERT INTO audit.audit_log (client_id, provider_id, method, path, citizen_ref, status, outcome)
    SELECT $22, $2, $23, $24, $5, $9, 'ok' FROM fresh
)
SELECT count(*) = 1 FROM fresh
"""


@dataclass(frozen=True)
class ReportAtOnce:
    """What `record_report_at_once` writes; the caller has checked the token, the body and the
    key, and knows the referral's citizen (cached: it never changes for a referral)."""

    client_id: str
    provider_id: str
    token_generation: int
    referral_id: uuid.UUID
    citizen_ref: str
    closed_statuses: list[str]
    key: str
    request_hash: str
    status_code: int
    response: str
    submission_id: uuid.UUID
    kind: str
    outbox_row: tuple[Any, ...]
    audit_client_id: str | None
    audit_method: str
    audit_path: str


async def record_report_at_once(conn: Connection | asyncpg.Pool, report: ReportAtOnce) -> bool:
    """Write a report with all that goes with it in one statement; False when nothing was
    written because a check failed (see `_REPORT_AT_ONCE`)."""
    done: bool = await conn.fetchval(
        _REPORT_AT_ONCE,
        report.client_id,
        report.provider_id,
        report.token_generation,
        report.referral_id,
        report.citizen_ref,
        report.closed_statuses,
        report.key,
        report.request_hash,
        report.status_code,
        report.response,
        report.submission_id,
        report.kind,
        *report.outbox_row,
        report.audit_client_id,
        report.audit_method,
        report.audit_path,
    )
    return done
