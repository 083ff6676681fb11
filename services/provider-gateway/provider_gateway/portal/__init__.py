"""The provider portal: web pages for a provider's contact person, served by the gateway.

Server-rendered HTML (Jinja2, texts through Babel's gettext, Danish first), the same
service-layer code as the API, every request audited like an API call (see `web`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from provider_gateway.portal import actions, auth, oidc, pages, sessions
from provider_gateway.portal.web import HERE, LoginRequired, Refused, render
from provider_gateway.settings import GatewaySettings

# No inline script or style, nothing from elsewhere, never in a frame; pages are not cached.
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_NO_STORE = [(b"cache-control", b"no-store")]
# Outside local mode the portal is only ever reached over https (TLS may end at a proxy in front):
# a browser that has seen it once never tries plain http again, for a year.
_HSTS = [(b"strict-transport-security", b"max-age=31536000")]


class PortalHeaders:
    """The portal's security headers on every answer under /portal (ASGI); HSTS with ``hsts``."""

    def __init__(self, app: Any, hsts: bool = False) -> None:
        self.app = app
        self.headers = _HEADERS + (_HSTS if hsts else [])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/portal" or path.startswith("/portal/")):
            await self.app(scope, receive, send)
            return
        extra = self.headers + ([] if path.startswith("/portal/static/") else _NO_STORE)

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _login_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, LoginRequired)
    ended = "&ended=1" if error.ended else ""
    login = f"/portal/login?next={_quoted(error.next_path)}{ended}"
    response: Response
    if request.headers.get("hx-request") == "true":
        # htmx would follow a redirect itself and put the login page into a part of the page:
        # it sends the whole browser there instead when told so.
        response = Response(status_code=401, headers={"HX-Redirect": login})
    else:
        response = RedirectResponse(login, status_code=303)
    if error.ended:  # the browser need not bring it again
        sessions.delete_cookie(request, response, sessions.SESSION_COOKIE)
    return response


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, Refused)
    return render(request, "refused.html", {"message": error.message}, status_code=error.status_code)


def _quoted(path: str) -> str:
    return quote(path, safe="/")


def install(app: FastAPI, settings: GatewaySettings) -> None:
    """The portal's routes under /portal (none in the OpenAPI document) and its static files."""
    app.include_router(auth.router)
    app.include_router(oidc.router)
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Refused, _refused)
    app.add_middleware(PortalHeaders, hsts=not settings.local_mode)

    @app.get("/portal", include_in_schema=False)
    async def portal_root() -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=308)
