"""Review 2 of the portal security fixes: the CPR guard reads a form body as UTF-8 (undecodable
bytes become U+FFFD), but Starlette reads it as Latin-1 (`starlette.formparsers.FormParser`), so
a form whose bytes are not percent-encoded can hold a CPR number the route sees and the guard
does not. Fails on eff55f1."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from provider_gateway.portal import actions
from samspil.runtime.cpr_guard import CPR_FIELDS, CprGuard
from schemas.cpr import contains_cpr


def _echo() -> FastAPI:
    app = FastAPI()

    @app.post("/portal/referrals/r-1/steps/hold")
    async def hold(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"form": dict(form), "cpr_fields": getattr(request.state, CPR_FIELDS, None)}

    @app.post("/oauth/token")
    async def token(request: Request) -> dict[str, Any]:
        return {"form": dict(await request.form())}

    return app


# 010190-1234 with a Latin-1 superscript two, no-break space or soft hyphen sent as raw bytes.
RAW_SPELLINGS = [b"01019\xb21234", b"010190\xa01234", b"010190\xad1234"]


@pytest.mark.parametrize("spelling", RAW_SPELLINGS)
@pytest.mark.parametrize("path", ["/portal/referrals/r-1/steps/hold", "/oauth/token"])
async def test_a_cpr_number_in_raw_latin1_form_bytes_never_reaches_a_route(
    spelling: bytes, path: str
) -> None:
    guarded = CprGuard(_echo(), forms_to_routes=(actions.PORTAL_REFERRAL_FORMS,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://gw") as client:
        answer = await client.post(
            path,
            content=b"reason=" + spelling,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    if answer.status_code == 422:
        return  # refused at the door
    seen = answer.json()["form"].get("reason", "")
    assert not contains_cpr(seen), f"the route got {seen!r}, a CPR number the guard did not see"


async def test_a_cpr_number_in_raw_latin1_multipart_bytes_never_reaches_a_route() -> None:
    """Starlette decodes a multipart part that is not UTF-8 as Latin-1 (`_user_safe_decode`)."""
    guarded = CprGuard(_echo(), forms_to_routes=(actions.PORTAL_REFERRAL_FORMS,))
    body = b'--b\r\ncontent-disposition: form-data; name="reason"\r\n\r\n010190\xad1234\r\n--b--\r\n'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://gw") as client:
        answer = await client.post(
            "/portal/referrals/r-1/steps/hold",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
    if answer.status_code == 422:
        return
    seen = answer.json()["form"].get("reason", "")
    assert not contains_cpr(seen), f"the route got {seen!r}, a CPR number the guard did not see"
