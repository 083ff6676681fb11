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


async def test_the_portal_rewrite_leaves_the_other_fields_as_the_route_would_have_read_them() -> None:
    guarded = CprGuard(_echo(), forms_to_routes=(actions.PORTAL_REFERRAL_FORMS,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://gw") as client:
        answer = await client.post(
            "/portal/referrals/r-1/steps/hold",
            content=b"note=caf\xe9+%C3%A6&reason=010190-1234&other=a%26b;c",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        unrewritten = await client.post(
            "/portal/referrals/r-1/steps/hold",
            content=b"note=caf\xe9+%C3%A6&reason=&other=a%26b;c",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"form": unrewritten.json()["form"], "cpr_fields": ["reason"]}
    assert answer.json()["form"]["note"] == "café æ"


async def test_a_cpr_number_in_an_uploaded_file_is_refused_and_a_broken_multipart_form_is_a_400() -> None:
    guarded = CprGuard(_echo())
    part = b'--b\r\ncontent-disposition: form-data; name="f"; filename="%s"\r\n\r\n%s\r\n--b--\r\n'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://gw") as client:
        in_content, in_name, broken = [
            await client.post(
                "/oauth/token",
                content=body,
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
            for body in (
                part % (b"a.txt", b"010190\xad1234"),
                part % (b"0101901234.txt", b"x"),
                b"--b\r\ncontent-disposition: form-data\r\n\r\nx\r\n--b--\r\n",
            )
        ]
    assert in_content.status_code == 422 and in_content.json()["errors"][0]["field"] == "body.f"
    assert in_name.status_code == 422
    assert broken.status_code == 400 and broken.json()["type"].endswith("bad-form")
