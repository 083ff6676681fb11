"""The provider-facing HTTP API, version 1."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationError, create_model

from provider_gateway.adapters import repository
from provider_gateway.domain.credentials import TokenClaims
from provider_gateway.domain.lifecycle import ACTIONS, IllegalTransition
from provider_gateway.entrypoints.auth import Provider, ProviderToken, check_client
from provider_gateway.entrypoints.guards import ReferralCitizens, idempotent, report_at_once
from provider_gateway.service_layer import handlers, reading
from provider_gateway.service_layer.views import ReferralDetail, ReferralOut, SubmissionOut
from samspil.runtime.db import Connection
from samspil.runtime.http import Problem, problem_from_validation, problem_responses
from samspil.runtime.paging import Cursor as PageCursor
from samspil.runtime.paging import Limit as PageLimit
from samspil.runtime.paging import Page, make_cursor, read_cursor
from schemas.common import ShortText, Strict
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
from schemas.referrals import (
    CompletionCategory,
    ReasonCategory,
    ReferralCompleted,
    ReferralStatus,
    ReferralTransition,
)

router = APIRouter()
DANISH_TIME = ZoneInfo("Europe/Copenhagen")


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; empty at the end.")


class StepIn(Strict):
    """A step in the referral's lifecycle. A reason is required to reject, cancel, put on hold
    or fail; an outcome to complete. Rejecting, failing and cancelling may also give the reason's
    category, and completing the outcome's category (how the municipality counts how referrals
    end); no other step takes either."""

    occurred_on: date | None = Field(default=None, description="Defaults to today.")
    reason: ShortText | None = None
    reason_category: ReasonCategory | None = Field(
        default=None, description="Only to reject, fail or cancel: the reason's category."
    )
    outcome: ShortText | None = None
    outcome_category: CompletionCategory | None = Field(
        default=None,
        description="Only to complete: what the citizen goes on to (job, education, next-offer, other).",
    )


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


class SubmissionAccepted(BaseModel):
    submission_id: uuid.UUID
    status: str = "received"


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9\-_.:]+$",
        description="Unique per request you mean to make once; repeat it to retry safely.",
    ),
]


def _no_such_referral() -> Problem:
    # The same answer whether it does not exist or is someone else's.
    return Problem(404, "not-found", "No such referral")


@router.get("/v1/referrals", response_model=ReferralPage, tags=["referrals"])
async def list_referrals(
    request: Request,
    provider: Provider,
    status_filter: Annotated[ReferralStatus | None, Query(alias="status")] = None,
    updated_since: Annotated[
        AwareDatetime | None,
        AfterValidator(_storable),
        Query(
            description="Only referrals changed at or after this time: an RFC 3339 date-time WITH a "
            "time-zone offset (Z, or +01:00 sent as %2B01:00 in the query string); a time without "
            "an offset is refused with 422.",
            examples=["2026-11-17T08:00:00+01:00"],
            openapi_examples={
                "utc": {"summary": "In UTC", "value": "2026-11-17T07:00:00Z"},
                "danish": {"summary": "Danish time, with its offset", "value": "2026-11-17T08:00:00+01:00"},
            },
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-=]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReferralPage:
    """Referrals addressed to the calling provider, oldest change first, a page at a time."""
    after = _read_cursor(cursor) if cursor else None
    rows = await repository.referrals_for_provider(
        request.app.state.runtime.pool,
        provider.provider_id,
        status=status_filter.value if status_filter else None,
        updated_since=updated_since,
        after=after,
        limit=limit + 1,
    )
    items = [reading.referral_out(row) for row in rows[:limit]]
    next_cursor = _make_cursor(rows[limit - 1]) if len(rows) > limit else None
    return ReferralPage(items=items, next_cursor=next_cursor)


def _storable(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        in_range = 2 <= value.astimezone(UTC).year <= 9998
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("must be a time between the years 2 and 9998")
    return value


def _make_cursor(row: Any) -> str:
    raw = f"{row['updated_at'].isoformat()}|{row['referral_id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _read_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        when, referral_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        after = datetime.fromisoformat(when)
        if after.tzinfo is None or _storable(after) is None:
            raise ValueError("not a cursor from this API")
        return after, uuid.UUID(referral_id)
    except (ValueError, OverflowError):
        raise Problem(
            422,
            "validation-failed",
            "The request is not valid",
            errors=[
                {"field": "query.cursor", "message": "not a cursor from this API", "code": "invalid-cursor"}
            ],
        ) from None


@router.get("/v1/referrals/{referral_id}", response_model=ReferralDetail, tags=["referrals"])
async def get_referral(referral_id: uuid.UUID, request: Request, provider: Provider) -> ReferralDetail:
    """A referral with its status history, the jobcenter contact, the minimal citizen details
    the provider needs, and the social measures the citizen consented to share with the provider."""
    today = datetime.now(UTC).astimezone(DANISH_TIME).date()
    pool = request.app.state.runtime.pool
    found = await reading.referral_detail(pool, provider.provider_id, referral_id, today)
    if found is None:
        raise _no_such_referral()
    request.state.citizen_ref = found.citizen_ref
    return found.detail


def _step_endpoint(action: str, step: type[ReferralTransition]) -> Any:
    async def take_step(
        referral_id: uuid.UUID, body: StepIn, request: Request, provider: Provider, _key: IdempotencyKey
    ) -> Response:
        details: dict[str, Any] = {"occurred_on": body.occurred_on or date.today(), "reason": body.reason}
        if body.reason_category is not None:  # a step that takes none refuses it by name
            details["reason_category"] = body.reason_category
        if body.outcome_category is not None:  # likewise: only a completion takes one
            details["outcome_category"] = body.outcome_category
        if step is ReferralCompleted:
            details["outcome"] = body.outcome
        try:
            step.model_validate({"referral_id": referral_id, "provider_id": provider.provider_id, **details})
        except ValidationError as error:
            raise problem_from_validation(error, prefix="body") from None

        async def work(conn: Connection) -> tuple[int, BaseModel]:
            try:
                await handlers.take_step(conn, provider.provider_id, referral_id, step, details)
            except handlers.ReferralNotFound:
                raise _no_such_referral() from None
            except IllegalTransition as illegal:
                raise Problem(
                    409,
                    "illegal-transition",
                    f"The referral is {illegal.current.value}; it cannot take the step '{action}'",
                    current_status=illegal.current.value,
                ) from None
            row = await repository.referral_for_provider(conn, referral_id, provider.provider_id)
            assert row is not None  # locked and updated just now in this transaction
            request.state.citizen_ref = row["citizen_ref"]
            return 200, reading.referral_out(row)

        return await idempotent(request, provider.provider_id, work)

    take_step.__name__ = f"{action}_referral"
    take_step.__doc__ = (step.__doc__ or "").strip()
    return take_step


for _action, _step in ACTIONS.items():
    router.add_api_route(
        f"/v1/referrals/{{referral_id}}/{_action}",
        _step_endpoint(_action, _step),
        methods=["POST"],
        response_model=ReferralOut,
        tags=["referral lifecycle"],
        responses=problem_responses(
            404, 409, descriptions={404: "No such referral", 409: "Not allowed from its status"}
        ),
    )


async def _submit(request: Request, provider: TokenClaims, kind: str, report: ProviderReport) -> Response:
    """Record a report. The short way when the referral's citizen is known from an earlier
    report (a referral's citizen never changes): one statement that also checks the client and
    the referral. Otherwise, or when that statement wrote nothing, the long way, which answers
    every case (a disabled client, a closed referral, a repeated key) as it always has."""
    citizens: ReferralCitizens = request.app.state.referral_citizens
    citizen_ref = citizens.get(report.referral_id, provider.provider_id)
    answer = SubmissionAccepted(submission_id=report.submission_id)
    if citizen_ref is not None:
        envelope = handlers.report_envelope(report, citizen_ref)
        done = await report_at_once(request, provider, kind, report, envelope, answer)
        if done is not None:
            return done
    await check_client(request.app.state.runtime.pool, provider)

    async def work(conn: Connection) -> tuple[int, BaseModel]:
        try:
            request.state.citizen_ref = await handlers.submit_report(conn, provider.provider_id, kind, report)
        except handlers.ReferralNotFound:
            raise _no_such_referral() from None
        except handlers.ReferralClosed as closed:
            raise Problem(
                409, "referral-closed", "The referral is closed", current_status=closed.status
            ) from None
        return 202, answer

    response = await idempotent(request, provider.provider_id, work)
    if getattr(request.state, "citizen_ref", None) is not None:
        citizens.remember(report.referral_id, provider.provider_id, request.state.citizen_ref)
    return response


def _build(
    model: type[ProviderReport], referral_id: uuid.UUID, provider: TokenClaims, fields: dict[str, Any]
) -> Any:
    try:
        return model(
            submission_id=handlers.new_submission_id(),
            referral_id=referral_id,
            provider_id=provider.provider_id,
            **fields,
        )
    except ValidationError as error:
        raise problem_from_validation(error, prefix="body") from None


@router.post(
    "/v1/referrals/{referral_id}/absence-notices",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionAccepted,
    tags=["reports"],
)
async def submit_absence_notice(
    referral_id: uuid.UUID,
    body: AbsenceNoticeIn,
    request: Request,
    provider: ProviderToken,
    _key: IdempotencyKey,
) -> Response:
    """Notify the jobcenter that the citizen has stayed away from the offer. The jobcenter,
    not the provider, then re-contacts the citizen."""
    fields = {**body.model_dump(exclude={"contact_attempts"}), "contact_attempts": body.attempts()}
    notice = _build(AbsenceNoticeSubmitted, referral_id, provider, fields)
    return await _submit(request, provider, "absence-notice", notice)


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


_REPORT_IDS = {"submission_id", "referral_id", "provider_id"}
REPORTS: dict[str, tuple[type[ProviderReport], str]] = {
    "progress-reports": (ProgressReportSubmitted, "progress-report"),
    "readiness-reports": (ReadinessReportSubmitted, "readiness-report"),
    "plan-change-requests": (PlanChangeRequested, "plan-change-request"),
}


def _report_endpoint(model: type[ProviderReport], kind: str) -> Any:
    body_model = _input_model(model)

    async def submit(
        referral_id: uuid.UUID, body: Any, request: Request, provider: ProviderToken, _key: IdempotencyKey
    ) -> Response:
        report = _build(model, referral_id, provider, body.model_dump())
        return await _submit(request, provider, kind, report)

    submit.__annotations__["body"] = body_model
    submit.__name__ = f"submit_{kind.replace('-', '_')}"
    submit.__doc__ = (model.__doc__ or "").strip()
    return submit


for _path, (_model, _kind) in REPORTS.items():
    router.add_api_route(
        f"/v1/referrals/{{referral_id}}/{_path}",
        _report_endpoint(_model, _kind),
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionAccepted,
        tags=["reports"],
    )


@router.get("/v1/submissions/{submission_id}", response_model=SubmissionOut, tags=["reports"])
async def get_submission(submission_id: uuid.UUID, request: Request, provider: Provider) -> SubmissionOut:
    pool = request.app.state.runtime.pool
    found = await reading.submission_detail(pool, provider.provider_id, submission_id)
    if found is None:
        raise Problem(404, "not-found", "No such submission")
    return found


class FeedItem(BaseModel):
    seq: int = Field(
        description="The entry's position in your feed: increasing, given when the entry was "
        "committed, so no entry ever appears below one you have read. Not contiguous."
    )
    kind: str = Field(
        description="referral-requested, referral-cancelled (by the jobcenter; data: reason, and "
        f"reason_category: one of {', '.join(ReasonCategory)}, or null when the jobcenter gave "
        "none; absent on entries from before it was recorded), submission-acknowledged, "
        "submission-decided or submission-final (data is then the acknowledgement), "
        "progress-report-due (data: due_on, a few days before a progress report is due) or "
        "progress-report-overdue (data: due_on)."
    )
    referral_id: uuid.UUID | None
    submission_id: uuid.UUID | None
    data: dict[str, Any] = Field(
        examples=[{"reason": "Borgeren er flyttet til en anden kommune.", "reason_category": "citizen-moved"}]
    )
    at: datetime


class FeedPage(Page[FeedItem]):
    """A page of the feed. Unlike other lists, ``next_cursor`` is never null: a feed has no
    last page, and the cursor says where to poll from next (the same cursor again when nothing
    new has come)."""

    next_cursor: str = Field(
        description="Pass as ?cursor= to poll for what came after this page; never null, also "
        "when the page is empty (poll again later with the same cursor)."
    )
    next_after: int = Field(
        deprecated=True,
        description="Deprecated: use next_cursor. The position to pass as ?after= next time.",
    )


def _feed_position(key: list[Any]) -> int:
    (position,) = key
    if not isinstance(position, int) or not 0 <= position < 2**63:
        raise ValueError("not a feed position")
    return position


@router.get("/v1/feed", response_model=FeedPage, tags=["feed"])
async def feed(
    request: Request,
    provider: Provider,
    cursor: PageCursor = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            deprecated=True,
            description="Deprecated: use cursor. The last seq (or next_after) you read.",
        ),
    ] = None,
    limit: PageLimit = 100,
) -> FeedPage:
    """What changed for the calling provider, in order: new or cancelled referrals, what the
    departments did with its submissions, and progress reports due or overdue. For providers
    that poll: start without a cursor, then always pass the page's ``next_cursor``; an entry is
    never skipped, even when entries are committed out of the order they were written in."""
    if cursor is not None and after is not None:
        raise Problem(
            422,
            "validation-failed",
            "The request is not valid",
            errors=[
                {"field": "query.after", "message": "give cursor or after, not both", "code": "conflict"}
            ],
        )
    start = read_cursor(cursor, _feed_position) if cursor is not None else (after or 0)
    rows = await repository.feed_for_provider(
        request.app.state.runtime.pool, provider.provider_id, after=start, limit=limit
    )
    items = [FeedItem(**{**dict(row), "data": json.loads(row["data"])}) for row in rows]
    last = items[-1].seq if items else start
    return FeedPage(items=items, next_cursor=make_cursor([last]), next_after=last)
