"""The social department's readiness assessment and the providers' reports it answers.
Plain Python, no I/O."""

from __future__ import annotations

import uuid

from schemas.common import Department
from schemas.decisions import ReportOutcome, ReportReceived


def report_completed(submission_id: uuid.UUID, referral_id: uuid.UUID, provider_id: str) -> ReportReceived:
    """What a provider learns when the assessment answers its readiness report: the social
    department's work on it is done."""
    return ReportReceived(
        submission_id=submission_id,
        referral_id=referral_id,
        provider_id=provider_id,
        department=Department.SOCIAL,
        outcome=ReportOutcome.COMPLETED,
    )
