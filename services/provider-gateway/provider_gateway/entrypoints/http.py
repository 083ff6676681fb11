"""The provider-facing HTTP API, version 1."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationError

from provider_gateway.adapters import repository
from provider_gateway.domain.credentials import TokenClaims
from provider_gateway.domain.inbox import ReferralKey, referral_after, referral_cursor
from provider_gateway.domain.lifecycle import ACTIONS, IllegalTransition, ReferralClosed, ReferralNotFound
from provider_gateway.entrypoints.auth import Provider, ProviderToken, check_client
from provider_gateway.entrypoints.guards import ReferralCitizens, idempotent, report_at_once
from provider_gateway.service_layer import reading, referral_steps, reports
from provider_gateway.service_layer.referral_steps import StepIn
from provider_gateway.service_layer.reports import (
    REPORT_KINDS,
    AbsenceNoticeIn,
    ReportKind,
    SubmissionAccepted,
)
from provider_gateway.service_layer.views import ReferralDetail, ReferralOut, SubmissionOut
from samspil.runtime.db import Connection
from samspil.runtime.http import Problem, problem_from_validation, problem_responses
from samspil.runtime.paging import Cursor as PageCursor
from samspil.runtime.paging import Limit as PageLimit
from samspil.runtime.paging import Page, make_cursor, read_cursor
from schemas.provider_reports import (
    ProviderReport,
)
from schemas.referrals import ReasonCategory, ReferralStatus, ReferralTransition

router = APIRouter()


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; empty at the end.")


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
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = referral_cursor(last["updated_at"], last["referral_id"])
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


def _read_cursor(cursor: str) -> ReferralKey:
    try:
        return referral_after(cursor)
    except ValueError:
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
    today = reading.danish_today()
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
        try:
            details = referral_steps.step_details(step, referral_id, provider.provider_id, body)
        except ValidationError as error:
            raise problem_from_validation(error, prefix="body") from None

        async def work(conn: Connection) -> tuple[int, BaseModel]:
            try:
                row = await referral_steps.take_step(conn, provider.provider_id, referral_id, step, details)
            except ReferralNotFound:
                raise _no_such_referral() from None
            except IllegalTransition as illegal:
                raise Problem(
                    409,
                    "illegal-transition",
                    f"The referral is {illegal.current.value}; it cannot take the step '{action}'",
                    current_status=illegal.current.value,
                ) from None
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
        envelope = reports.report_envelope(report, citizen_ref)
        done = await report_at_once(request, provider, kind, report, envelope, answer)
        if done is not None:
            return done
    await check_client(request.app.state.runtime.pool, provider)

    async def work(conn: Connection) -> tuple[int, BaseModel]:
        try:
            request.state.citizen_ref = await reports.record_report(conn, provider.provider_id, kind, report)
        except ReferralNotFound:
            raise _no_such_referral() from None
        except ReferralClosed as closed:
            raise Problem(
                409, "referral-closed", "The referral is closed", current_status=closed.status
            ) from None
        return 202, answer

    response = await idempotent(request, provider.provider_id, work)
    if getattr(request.state, "citizen_ref", None) is not None:
        citizens.remember(report.referral_id, provider.provider_id, request.state.citizen_ref)
    return response


def _build(kind: ReportKind, referral_id: uuid.UUID, provider: TokenClaims, body: BaseModel) -> Any:
    try:
        return reports.build_report(kind, referral_id, provider.provider_id, body)
    except ValidationError as error:
        raise problem_from_validation(error, prefix="body") from None


_ABSENCE_NOTICE = REPORT_KINDS["absence-notice"]


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
    notice = _build(_ABSENCE_NOTICE, referral_id, provider, body)
    return await _submit(request, provider, _ABSENCE_NOTICE.kind, notice)


def _report_endpoint(kind: ReportKind) -> Any:
    async def submit(
        referral_id: uuid.UUID, body: Any, request: Request, provider: ProviderToken, _key: IdempotencyKey
    ) -> Response:
        report = _build(kind, referral_id, provider, body)
        return await _submit(request, provider, kind.kind, report)

    submit.__annotations__["body"] = kind.body
    submit.__name__ = f"submit_{kind.kind.replace('-', '_')}"
    submit.__doc__ = (kind.report.__doc__ or "").strip()
    return submit


for _kind in REPORT_KINDS.values():
    if _kind is _ABSENCE_NOTICE:
        continue
    router.add_api_route(
        f"/v1/referrals/{{referral_id}}/{_kind.path}",
        _report_endpoint(_kind),
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
