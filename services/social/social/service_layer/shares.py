"""What leaves the social case, and on which basis: the social plan summary to the jobcenter,
free texts about the citizen's social situation, the social measures to providers under the
citizen's consent, and the ends of those shares. Every share is logged with its basis."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from samspil.runtime.db import Connection
from schemas.common import Department
from schemas.consent import MeasuresSharedWithProvider, ProviderShareEnded, SharedInformation, ShareEndReason
from schemas.envelope import Envelope
from schemas.plans import SocialPlanSummaryWithdrawn
from social.adapters import consents, repository
from social.domain import consents as rules
from social.domain.consents import NOT_SHARED
from social.domain.plans import measures_of, summary_of
from social.service_layer.messages import Actor, emit

__all__ = ["NOT_SHARED", "log_shared", "share_basis", "shared_text"]


SUMMARY = SharedInformation.SOCIAL_PLAN_SUMMARY.value


async def share_basis(conn: Connection, citizen_ref: str, today: date, statute: str | None) -> str | None:
    """What allows the plan summary to reach the employment department: a consent in force, else
    the recorded statutory basis, else nothing (and nothing is shared)."""
    consent = await consents.active_consent(conn, citizen_ref, SUMMARY, Department.EMPLOYMENT.value, today)
    return rules.share_basis(consent, statute)


async def shared_text(
    conn: Connection, citizen_ref: str, text: str, today: date, statute: str | None
) -> tuple[str, str | None]:
    """A free text about the citizen's social situation may cross to the jobcenter only on the
    same basis as the social plan summary; otherwise a neutral text goes instead."""
    return rules.shared_text(text, await share_basis(conn, citizen_ref, today, statute))


async def log_shared(
    conn: Connection, citizen_ref: str, what: str, basis: str | None, actor: Actor, envelope: Envelope
) -> None:
    if basis is not None:
        await repository.log_share(conn, citizen_ref, what, "employment", basis, actor.name, envelope.id)


async def share_plan(
    conn: Connection, citizen_ref: str, actor: Actor, today: date, statute: str | None, cause: Envelope | None
) -> bool:
    """The current plan summary goes to the jobcenter if a basis allows it; whether it went."""
    basis = await share_basis(conn, citizen_ref, today, statute)
    plan = await repository.plan_version(conn, citizen_ref)
    if basis is None or plan is None:
        return False
    envelope = await emit(
        conn,
        summary_of(plan["version"], plan["goal"], plan["measures"], plan["weekly_capacity_hours"]),
        citizen_ref,
        cause,
        legal_basis=basis,
    )
    await repository.log_share(conn, citizen_ref, SUMMARY, "employment", basis, actor.name, envelope.id)
    return True


async def share_with_providers(
    conn: Connection,
    citizen_ref: str,
    actor: Actor,
    today: date,
    cause: Envelope | None,
    consent_id: uuid.UUID | None = None,
) -> None:
    """Each provider the citizen consented to show the social measures to sees the current ones."""
    plan = await repository.plan_version(conn, citizen_ref)
    if plan is None:
        return
    found = await consents.provider_consents(conn, citizen_ref, SUMMARY, today, consent_id)
    measures = rules.provider_measures(measures_of(plan["measures"]))
    for consent in found:
        shared = MeasuresSharedWithProvider(
            consent_id=consent["consent_id"],
            provider_id=consent["to_provider_id"],
            plan_version=plan["version"],
            measures=measures,
            shared_until=consent["expires_on"],
        )
        basis = rules.consent_basis(consent["consent_id"])
        envelope = await emit(conn, shared, citizen_ref, cause, legal_basis=basis)
        recipient = f"provider:{consent['to_provider_id']}"
        await repository.log_share(
            conn, citizen_ref, "social-measures", recipient, basis, actor.name, envelope.id
        )


async def end_provider_share(
    conn: Connection,
    citizen_ref: str,
    consent: asyncpg.Record,
    reason: ShareEndReason,
    actor: str,
    today: date,
) -> None:
    ended = ProviderShareEnded(
        consent_id=consent["consent_id"], provider_id=consent["to_provider_id"], ended_on=today, reason=reason
    )
    basis = rules.ended_basis(reason, consent["consent_id"])
    envelope = await emit(conn, ended, citizen_ref, legal_basis=basis)
    recipient = f"provider:{consent['to_provider_id']}"
    await repository.log_share(
        conn, citizen_ref, "social-measures-ended", recipient, basis, actor, envelope.id
    )


async def withdraw_summary(
    conn: Connection, citizen_ref: str, basis: str, actor: str, today: date, cause: Envelope | None = None
) -> None:
    """The jobcenter is told to remove its copy of the plan summary: nothing allows it any more."""
    withdrawn = SocialPlanSummaryWithdrawn(withdrawn_on=today)
    envelope = await emit(conn, withdrawn, citizen_ref, cause, legal_basis=basis)
    await repository.log_share(
        conn, citizen_ref, "social-plan-summary-withdrawal", "employment", basis, actor, envelope.id
    )
