"""What the gateway consumes: referrals from the jobcenter and when their progress reports are
due, what the departments did with the providers' submissions, and the social measures a citizen
consented to share with a provider."""

from __future__ import annotations

from provider_gateway.service_layer import handlers
from samspil.runtime.service import Subscription
from schemas.consent import MeasuresSharedWithProvider, ProviderShareEnded
from schemas.decisions import AbsenceAssessed, PlanChangeDecided, ReportReceived
from schemas.disputes import PlanChangeDecisionFinal
from schemas.referrals import (
    ProgressReportDueSoon,
    ProgressReportOverdue,
    ProgressReportScheduled,
    ReferralCancelled,
    ReferralRequested,
)
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS


def subscription() -> Subscription:
    return Subscription(
        topics=[EMPLOYMENT_EVENTS, SOCIAL_EVENTS],
        handlers={
            ReferralRequested: handlers.record_referral,
            ReferralCancelled: handlers.record_cancellation_by_jobcenter,
            ProgressReportScheduled: handlers.record_progress_schedule,
            ProgressReportDueSoon: handlers.record_progress_due_soon,
            ProgressReportOverdue: handlers.record_progress_overdue,
            ReportReceived: handlers.record_acknowledgement,
            PlanChangeDecided: handlers.record_decision,
            AbsenceAssessed: handlers.record_decision,
            PlanChangeDecisionFinal: handlers.record_final_outcome,
            MeasuresSharedWithProvider: handlers.record_measures_shared,
            ProviderShareEnded: handlers.record_share_ended,
        },
        # The departments' answers to submissions (one per report, at least) are taken set-wise
        # when several come in a row.
        batch_handlers={
            answer: handlers.record_department_answers
            for answer in (ReportReceived, PlanChangeDecided, AbsenceAssessed, PlanChangeDecisionFinal)
        },
    )
