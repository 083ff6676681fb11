"""A provider's report (absence notice, progress report, readiness report, plan-change request),
as the API and the portal take it: the same models, the same checks, the same writes. The API's
short way for a report to a referral seen before (one statement) is its own, in
`entrypoints.guards.report_at_once`; it writes what `record_report` writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

from provider_gateway.adapters import repository
from provider_gateway.domain.lifecycle import ReferralClosed, ReferralNotFound
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.common import Strict
from schemas.envelope import Envelope
from schemas.provider_reports import (
    AbsenceNotice,
    AbsenceNoticeSubmitted,
    ContactAttempt,
    ContactChannel,
    PlanChangeRequested,
    ProgressReportSubmitted,
    ProviderReport,
    ReadinessReportSubmitted,
)
from schemas.referrals import CLOSED_STATUSES

SOURCE = "/samspil/provider-gateway"


class SubmissionAccepted(BaseModel):
    submission_id: uuid.UUID
    status: str = "received"


class AbsenceNoticeIn(AbsenceNotice):
    """An absence notice as a provider sends it. Contact attempts may be listed (when and how)
    or, as in the first version of this API, only counted."""

    contact_attempts: (
        Annotated[list[ContactAttempt], Field(max_length=100)] | Annotated[int, Field(ge=0, le=100)]
    ) = Field(
        default_factory=list,
        description="The provider's attempts to reach the citizen, or just how many there were.",
        examples=[[{"on": "2026-11-17", "channel": "phone"}]],
    )

    def attempts(self) -> list[ContactAttempt]:
        if isinstance(self.contact_attempts, int):
            return [ContactAttempt(channel=ContactChannel.UNKNOWN)] * self.contact_attempts
        return self.contact_attempts


_REPORT_IDS = {"submission_id", "referral_id", "provider_id"}


def _input_model(model: type[ProviderReport]) -> type[BaseModel]:
    """The request body: the report's own fields, without the ids the gateway fills in."""
    fields: Any = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name not in _REPORT_IDS
    }
    return create_model(
        f"{model.__name__.removesuffix('Submitted').removesuffix('Requested')}In",
        __base__=Strict,
        __doc__=model.__doc__,
        **fields,
    )


@dataclass(frozen=True)
class ReportKind:
    """One kind of report: its name (``absence-notice``), the API's path segment for it, the
    body a provider sends and the report it becomes."""

    kind: str
    path: str
    body: type[BaseModel]
    report: type[ProviderReport]

    def fields(self, body: BaseModel) -> dict[str, Any]:
        """The report's fields from the body (an absence notice's counted contact attempts
        become unknown attempts)."""
        if isinstance(body, AbsenceNoticeIn):
            return {**body.model_dump(exclude={"contact_attempts"}), "contact_attempts": body.attempts()}
        return body.model_dump()


REPORT_KINDS: dict[str, ReportKind] = {
    kind.kind: kind
    for kind in (
        ReportKind("absence-notice", "absence-notices", AbsenceNoticeIn, AbsenceNoticeSubmitted),
        *(
            ReportKind(kind, f"{kind}s", _input_model(model), model)
            for kind, model in (
                ("progress-report", ProgressReportSubmitted),
                ("readiness-report", ReadinessReportSubmitted),
                ("plan-change-request", PlanChangeRequested),
            )
        ),
    )
}


def build_report(kind: ReportKind, referral_id: uuid.UUID, provider_id: str, body: BaseModel) -> Any:
    """The report the body makes, with a new submission id; a ValidationError naming the field
    when the report's own rules refuse it."""
    ids = {"submission_id": new_submission_id(), "referral_id": referral_id, "provider_id": provider_id}
    return kind.report(**ids, **kind.fields(body))


async def record_report(conn: Connection, provider_id: str, kind: str, report: ProviderReport) -> str:
    """Record the provider's report and put it in the outbox, in one transaction. Returns the
    citizen reference (for the audit trail, never for the provider); ReferralNotFound when the
    referral is not the provider's, ReferralClosed when it takes no more reports."""
    # Shared, as the one-statement way takes it (`repository.record_report_at_once`): two
    # reports with one Idempotency-Key, one each way, then wait for each other in one order.
    referral = await repository.referral_for_provider(conn, report.referral_id, provider_id, lock="FOR SHARE")
    if referral is None:
        raise ReferralNotFound
    if referral["status"] in CLOSED_STATUSES:
        raise ReferralClosed(referral["status"])
    await repository.insert_submission(conn, report.submission_id, provider_id, report.referral_id, kind)
    await add_event(conn, report_envelope(report, referral["citizen_ref"]), report)
    citizen_ref: str = referral["citizen_ref"]
    return citizen_ref


def report_envelope(report: ProviderReport, citizen_ref: str) -> Envelope:
    """The envelope a provider's report travels in: about the referral's citizen, correlated
    by the submission."""
    return Envelope(
        source=SOURCE,
        type=report.event_type,
        subject=citizen_ref,
        dataschema=report.dataschema,
        correlationid=report.submission_id,
    )


def new_submission_id() -> uuid.UUID:
    return uuid.uuid4()
