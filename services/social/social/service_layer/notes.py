"""Notes on the citizen's social case (append-only)."""

from __future__ import annotations

from samspil.runtime.db import Connection
from schemas.commands import AddSocialCaseNote
from social.adapters import cases
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import Actor


async def add_case_note(conn: Connection, citizen_ref: str, command: AddSocialCaseNote, actor: Actor) -> None:
    await require_citizen(conn, citizen_ref)
    await cases.insert_note(conn, citizen_ref, actor.name, command.text)
