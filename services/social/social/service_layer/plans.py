"""The social action plan: a new version when its author saw the current one; its summary goes to
the jobcenter only on a consent or statutory basis, its measures to providers on the citizen's
consent."""

from __future__ import annotations

from datetime import date

import structlog

from samspil.runtime.db import Connection
from schemas.commands import ReviseSocialPlan
from schemas.envelope import Envelope
from social.adapters import repository
from social.domain.plans import check_expected_version
from social.service_layer import shares
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import Actor

log = structlog.get_logger("social.case")


async def revise_social_plan(
    conn: Connection,
    citizen_ref: str,
    command: ReviseSocialPlan,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> tuple[int, bool]:
    """A new version of the social action plan if the caller saw the current one; its summary
    goes to the jobcenter only on a consent or statutory basis. Returns (version, shared)."""
    await require_citizen(conn, citizen_ref)
    current = await repository.current_plan_version(conn, citizen_ref)
    version = check_expected_version(current, command.expected_version)
    measures = [measure.model_dump(mode="json") for measure in command.measures]
    await repository.insert_plan_version(
        conn, citizen_ref, version, command.goal, measures, command.weekly_capacity_hours, actor.name
    )
    shared = await shares.share_plan(conn, citizen_ref, actor, today, statute, cause)
    if not shared:
        log.info("social plan summary not shared: no consent or statutory basis")
    await shares.share_with_providers(conn, citizen_ref, actor, today, cause)
    return version, shared
