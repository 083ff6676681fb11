"""What the social service consumes from the bus."""

from __future__ import annotations

from typing import Any

from samspil.runtime.db import Connection
from samspil.runtime.service import Subscription
from schemas.decisions import PlanChangeDecided
from schemas.envelope import Envelope
from schemas.provider_reports import PlanChangeRequested, ReadinessReportSubmitted
from schemas.topics import EMPLOYMENT_EVENTS, PROVIDER_REPORTS, SOCIAL_COMMANDS
from social.service_layer import handlers
from social.settings import SocialSettings


def subscription(settings: SocialSettings) -> Subscription:
    async def on_report(conn: Connection, envelope: Envelope, data: Any) -> None:
        await handlers.receive_report(conn, envelope, data, settings.task_working_days)

    async def on_decision(conn: Connection, envelope: Envelope, data: Any) -> None:
        await handlers.informed_of_decision(conn, envelope, data, settings.objection_working_days)

    return Subscription(
        # Commands from the department's case system are kept (dead-lettered as unsupported, to be
        # replayed) until their handlers exist.
        topics=[PROVIDER_REPORTS, SOCIAL_COMMANDS, EMPLOYMENT_EVENTS],
        handlers={
            ReadinessReportSubmitted: on_report,
            PlanChangeRequested: on_report,
            PlanChangeDecided: on_decision,
        },
    )
