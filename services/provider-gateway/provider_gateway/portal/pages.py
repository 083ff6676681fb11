"""The portal's read side: the start page (what changed since the person last marked it seen),
the referral inbox, a referral, and a report's closed loop. Every page reads through
`service_layer.reading`, as the API's GETs do, so the portal shows exactly what the API answers
and nothing of another provider's: someone else's referral or submission is answered 404 as a
missing one is, with the same page."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from provider_gateway.domain.inbox import InboxTab, ReferralKey, referral_after, referral_cursor
from provider_gateway.portal.web import N_, CheckedForm, CurrentPerson, Refused, render, templates
from provider_gateway.service_layer import reading

router = APIRouter(prefix="/portal", include_in_schema=False)
INBOX_PAGE = 25
_FEED_POSITION_MAX = 2**63 - 1  # bigint


def _as_date(value: Any) -> Any:
    """A date as the feed's data carries it (ISO text) made a date, for the ``date`` filter."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _hours(value: float) -> str:
    """Hours per week as a Dane writes them: 10, 7,5."""
    return f"{value:g}".replace(".", ",")


templates.env.filters["as_date"] = _as_date
templates.env.filters["hours"] = _hours


def _pool(request: Request) -> Any:
    return request.app.state.runtime.pool


def _not_found(request: Request) -> HTMLResponse:
    # The same page whether it does not exist or is another provider's.
    return render(request, "not_found.html", {}, status_code=404)


@router.get("/")
async def start(request: Request, person: CurrentPerson) -> HTMLResponse:
    changed = await reading.what_changed(_pool(request), person.person_id, person.provider_id)
    return render(request, "start.html", {"changed": changed})


@router.post("/seen")
async def mark_seen(request: Request, person: CurrentPerson, form: CheckedForm) -> RedirectResponse:
    """The start page's "mark as seen": what it showed as new (up to feed position ``up_to``)
    is no longer new. Only this form (CSRF token, same origin) marks it; viewing the start page
    does not, so a link from another site cannot clear it."""
    posted = form.get("up_to")
    try:
        up_to = int(posted) if isinstance(posted, str) else 0
    except ValueError:
        up_to = 0
    if not 0 < up_to <= _FEED_POSITION_MAX:
        raise Refused(400, N_("Nothing was marked as seen: open the start page and try again."))
    await reading.mark_seen(_pool(request), person.person_id, person.provider_id, up_to)
    return RedirectResponse("/portal/", status_code=303)


def _page_key(cursor: str | None) -> ReferralKey | None:
    """The inbox's next-page cursor read back; anything else starts at the first page."""
    try:
        return referral_after(cursor) if cursor else None
    except ValueError:
        return None


def _inbox_url(tab: str | None, search: str, cursor: str | None = None) -> str:
    query = {name: value for name, value in (("tab", tab), ("q", search), ("cursor", cursor)) if value}
    return "/portal/referrals" + (f"?{urlencode(query)}" if query else "")


@router.get("/referrals")
async def inbox(
    request: Request,
    person: CurrentPerson,
    tab: Annotated[str | None, Query()] = None,
    q: Annotated[str, Query()] = "",
    cursor: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The provider's referrals, newest change first: all, or one tab; searched by name. What
    a hand-edited address gets wrong (an unknown tab, a cursor not from this page) shows the
    first page of all referrals rather than an error."""
    shown_tab = InboxTab(tab) if tab in set(InboxTab) else None
    q = q[:200]
    if q:
        # The request's audit row says what was searched for (a CPR number never gets here: the
        # CPR guard refuses it in the query, and the audit row masks one anyway).
        request.state.audit_detail = f"#search:{q}"
    page = await reading.inbox(
        _pool(request),
        person.provider_id,
        tab=shown_tab,
        search=q,
        before=_page_key(cursor[:400] if cursor else None),
        limit=INBOX_PAGE,
    )
    return render(
        request,
        "referrals.html",
        {
            "items": page.items,
            "tab": shown_tab.value if shown_tab else None,
            "search": q,
            "inbox_url": _inbox_url,
            "next_url": _inbox_url(
                shown_tab.value if shown_tab else None, q, referral_cursor(*page.next_before)
            )
            if page.next_before
            else None,
        },
    )


@router.get("/referrals/{referral_id}")
async def referral_page(referral_id: str, request: Request, person: CurrentPerson) -> HTMLResponse:
    """The referral with all a provider may know of it, its reports, and (P3's) what can be
    done with it."""
    try:
        wanted = uuid.UUID(referral_id)
    except ValueError:
        return _not_found(request)
    today = reading.danish_today()
    found = await reading.referral_detail(_pool(request), person.provider_id, wanted, today)
    if found is None:
        return _not_found(request)
    request.state.citizen_ref = found.citizen_ref  # for the page view's audit row
    reports = await reading.reports_on_referral(_pool(request), person.provider_id, wanted)
    return render(request, "referral.html", {"referral": found.detail, "reports": reports, "today": today})


@router.get("/submissions/{submission_id}")
async def submission_page(submission_id: str, request: Request, person: CurrentPerson) -> HTMLResponse:
    """A report's closed loop: when it was received, delivered, acted on and final, and what
    each department did with it."""
    try:
        wanted = uuid.UUID(submission_id)
    except ValueError:
        return _not_found(request)
    submission = await reading.submission_detail(_pool(request), person.provider_id, wanted)
    if submission is None:
        return _not_found(request)
    citizen = await reading.citizen_of(_pool(request), person.provider_id, submission.referral_id)
    if citizen is not None:
        request.state.citizen_ref = citizen.citizen_ref  # for the page view's audit row
    name = citizen.display_name if citizen else None
    return render(request, "submission.html", {"submission": submission, "citizen_display_name": name})
