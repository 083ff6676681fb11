"""The portal's pages: the start page, the referral inbox, a referral, a report's closed loop
(P2 fills this in; the start page below is P1's placeholder, for P2 to replace)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from provider_gateway.portal.web import CurrentPerson, render

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("/")
async def start(request: Request, person: CurrentPerson) -> HTMLResponse:
    return render(request, "placeholder_start.html", {})
