"""What the employment service consumes from the bus, and which handler each event goes to."""

from __future__ import annotations

from typing import Any

from employment.service_layer import handlers
from employment.settings import EmploymentSettings
from samspil.runtime.db import Connection
from samspil.runtime.service import Subscription
from schemas.envelope import Envelope
from schemas.referrals import (
    ReferralAccepted,
    ReferralCancelled,
    ReferralCompleted,
    ReferralFailed,
    ReferralPutOnHold,
    ReferralRejected,
    ReferralResumed,
    ReferralStarted,
)
from schemas.topics import EMPLOYMENT_COMMANDS, PROVIDER_REPORTS

# The provider's steps in a referral's lifecycle, as the gateway publishes them.
PROVIDER_STEPS = (
    ReferralAccepted,
    ReferralRejected,
    ReferralStarted,
    ReferralPutOnHold,
    ReferralResumed,
    ReferralCompleted,
    ReferralFailed,
    ReferralCancelled,
)


def subscription(settings: EmploymentSettings) -> Subscription:
    async def on_report(conn: Connection, envelope: Envelope, data: Any) -> None:
        await handlers.receive_report(conn, envelope, data, settings.absence_task_working_days)

    return Subscription(
        # Commands from the department's case system arrive here too; until their handlers
        # exist they are dead-lettered as unsupported, to be replayed.
        topics=[PROVIDER_REPORTS, EMPLOYMENT_COMMANDS],
        handlers={
            **{report: on_report for report in handlers.REPORT_KINDS},
            **{step: handlers.follow_provider_step for step in PROVIDER_STEPS},
        },
    )
