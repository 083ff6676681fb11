"""Portal sessions and CSRF tokens.

Every portal cookie (session, login form, OIDC flow, language) is HttpOnly, SameSite=Lax, and
Secure with the ``__Host-`` prefix but in local mode over plain http. A session id is 256 random
bits in a cookie that lives as long as the browser runs (no Max-Age: the server's limits below
end it, the browser keeps no session on disk); the database keeps only its SHA-256, with the
person, when it was last used and when it ends. A session ends when unused for
PROVIDER_GATEWAY_PORTAL_IDLE_MINUTES, PROVIDER_GATEWAY_PORTAL_SESSION_HOURS after login, at
logout, at a new login in the same browser, when its person gets a new password or is
disabled; it survives a restart and works on every replica.

A form's CSRF token is an HMAC of the session id (so it needs no storage and dies with the
session); before login, of a random value in a short-lived cookie of its own. POSTs must also
come from the portal's own origin when the browser says where they come from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from provider_gateway.settings import GatewaySettings

SESSION_COOKIE = "samspil_portal"
LOGIN_COOKIE = "samspil_portal_login"
LANG_COOKIE = "samspil_portal_lang"


def secure_cookies(request: Request) -> bool:
    """Secure cookies always in production (TLS may end at a proxy in front, so the scheme the
    gateway sees says nothing); in local mode only when the request came over https: plain
    http://localhost clients other than Chromium (httpx, curl, Firefox on 127.0.0.1) would not
    send a Secure cookie back."""
    settings: GatewaySettings = request.app.state.settings
    return not settings.local_mode or request.url.scheme == "https"


def cookie_name(request: Request, name: str) -> str:
    # __Host-: only this host, path /, Secure; no subdomain can set or shadow it.
    return f"__Host-{name}" if secure_cookies(request) else name


def session_cookie(request: Request) -> str:
    return cookie_name(request, SESSION_COOKIE)


def cookie(request: Request, name: str) -> str | None:
    """The value of the portal's cookie ``name`` (e.g. `LOGIN_COOKIE`) the browser brought."""
    return request.cookies.get(cookie_name(request, name))


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_id_of(request: Request) -> str | None:
    value = cookie(request, SESSION_COOKIE)
    return value if value and len(value) <= 100 else None


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    """Sets the portal's cookie ``name`` (``__Host-`` prefixed when Secure); ``max_age`` None: until
    the browser closes."""
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name), path="/", secure=secure_cookies(request), httponly=True, samesite="lax"
    )


def _key(settings: GatewaySettings) -> bytes:
    return hashlib.sha256(b"samspil portal csrf\0" + settings.token_secret.encode()).digest()


def mac(settings: GatewaySettings, purpose: str, value: str) -> str:
    """A keyed hash of ``value`` for ``purpose`` (CSRF tokens, the OIDC flow's cookie)."""
    digest = hmac.new(_key(settings), f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the request's session (None without a session cookie)."""
    session_id = session_id_of(request)
    return None if session_id is None else mac(request.app.state.settings, "session", session_id)


def login_token(request: Request, login_nonce: str) -> str:
    """The CSRF token of the login form, bound to the login cookie's random value."""
    return mac(request.app.state.settings, "login", login_nonce)


def token_matches(expected: str | None, sent: object) -> bool:
    return expected is not None and isinstance(sent, str) and hmac.compare_digest(expected, sent)


def same_origin(request: Request) -> bool:
    """Whether a POST comes from a page of this gateway, as far as the browser says: Origin
    (or, without it, Referer) must name this host; a request naming neither passes (not every
    client sends them) and relies on the token."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    if source == "null":
        return False
    allowed = {request.headers.get("host", "")}
    public_url = request.app.state.settings.public_url
    if public_url:
        allowed.add(urlsplit(public_url).netloc)
    return urlsplit(source).netloc in allowed
