"""Enrolment of citizens in the social case, and the lock every change to a case takes first."""

from __future__ import annotations

from samspil.runtime.db import Connection
from samspil.runtime.errors import NotFound
from social.adapters import repository
from social.service_layer.messages import Actor


async def require_citizen(conn: Connection, citizen_ref: str) -> None:
    """Lock the citizen: one change to a citizen's social case at a time."""
    if not await repository.citizen_exists(conn, citizen_ref, lock=True):
        raise NotFound("No such citizen is enrolled", field="citizen_ref")


async def enrol_citizen(conn: Connection, citizen_ref: str, cpr: str, actor: Actor) -> bool:
    return await repository.insert_citizen(conn, citizen_ref, cpr, actor.name)
