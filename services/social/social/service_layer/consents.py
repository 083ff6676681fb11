"""The citizen's consents: recorded, withdrawn, run out; each one's shares start or end with it."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from samspil.runtime.db import Connection
from samspil.runtime.errors import NotFound
from schemas.commands import RecordConsent, WithdrawConsent
from schemas.common import Department
from schemas.consent import ConsentRecorded, ConsentWithdrawn, SharedInformation, ShareEndReason
from schemas.envelope import Envelope
from social.adapters import consents
from social.domain import consents as rules
from social.service_layer import shares
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import Actor, emit


async def record_consent(
    conn: Connection,
    citizen_ref: str,
    command: RecordConsent,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> uuid.UUID:
    await require_citizen(conn, citizen_ref)
    rules.check_expiry(command.expires_on, today)
    consent_id = uuid.uuid4()
    await consents.insert_consent(
        conn,
        consent_id,
        citizen_ref,
        command.information.value,
        command.to_department.value if command.to_department else None,
        command.to_provider_id,
        command.purpose,
        today,
        command.expires_on,
        actor.name,
    )
    recorded = ConsentRecorded(
        consent_id=consent_id,
        information=command.information,
        from_department=Department.SOCIAL,
        to_department=command.to_department,
        to_provider_id=command.to_provider_id,
        purpose=command.purpose,
        given_on=today,
        expires_on=command.expires_on,
    )
    await emit(conn, recorded, citizen_ref, cause)
    if (
        command.information is SharedInformation.SOCIAL_PLAN_SUMMARY
        and command.to_department is Department.EMPLOYMENT
    ):
        await shares.share_plan(conn, citizen_ref, actor, today, statute, cause)
    if command.information is SharedInformation.SOCIAL_PLAN_SUMMARY and command.to_provider_id:
        await shares.share_with_providers(conn, citizen_ref, actor, today, cause, consent_id)
    return consent_id


async def withdraw_consent(
    conn: Connection,
    citizen_ref: str,
    command: WithdrawConsent,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> None:
    """The consent ends; if it was what allowed the plan summary to reach the jobcenter, the
    jobcenter is told to remove its copy and no further summaries go."""
    await require_citizen(conn, citizen_ref)
    row = await consents.consent_of(conn, command.consent_id, citizen_ref)
    if row is None:
        raise NotFound("No such consent for the citizen", field="consent_id")
    rules.check_withdrawable(row["withdrawn_on"])
    await consents.mark_withdrawn(conn, command.consent_id, today)
    await emit(conn, ConsentWithdrawn(consent_id=command.consent_id, withdrawn_on=today), citizen_ref, cause)
    if rules.shows_provider_measures(row["information"], row["to_provider_id"]):
        await shares.end_provider_share(conn, citizen_ref, row, ShareEndReason.WITHDRAWN, actor.name, today)
    await _end_summary_share(
        conn, citizen_ref, row, ShareEndReason.WITHDRAWN, actor.name, today, statute, cause
    )


async def expire_consents(pool: asyncpg.Pool, today: date, statute: str | None, batch: int = 200) -> int:
    """A consent that has run out ends the shares based on it, like a withdrawal: when nothing
    else allows the plan summary, the jobcenter is told to remove its copy. Once per consent."""
    candidates = await consents.expiry_candidates(pool, today, batch)
    handled = 0
    for candidate in candidates:
        async with pool.acquire() as conn, conn.transaction():
            # The citizen first, as every handler of the case does; then the consent, re-read.
            await consents.lock_citizen(conn, candidate["citizen_ref"])
            consent = await consents.claim_expired(conn, candidate["consent_id"])
            if consent is None:
                continue
            handled += 1
            await consents.mark_expiry_handled(conn, consent["consent_id"])
            citizen_ref = consent["citizen_ref"]
            if consent["to_provider_id"] is not None:
                await shares.end_provider_share(
                    conn, citizen_ref, consent, ShareEndReason.EXPIRED, rules.EXPIRY_ACTOR, today
                )
            await _end_summary_share(
                conn, citizen_ref, consent, ShareEndReason.EXPIRED, rules.EXPIRY_ACTOR, today, statute, None
            )
    return handled


async def _end_summary_share(
    conn: Connection,
    citizen_ref: str,
    consent: asyncpg.Record,
    reason: ShareEndReason,
    actor: str,
    today: date,
    statute: str | None,
    cause: Envelope | None,
) -> None:
    """If the ended consent let the plan summary reach the jobcenter and nothing else allows it
    now, the jobcenter is told to remove its copy."""
    if not rules.covers_plan_summary(consent["information"], consent["to_department"]):
        return
    if await shares.share_basis(conn, citizen_ref, today, statute) is None:
        basis = rules.ended_basis(reason, consent["consent_id"])
        await shares.withdraw_summary(conn, citizen_ref, basis, actor, today, cause)
