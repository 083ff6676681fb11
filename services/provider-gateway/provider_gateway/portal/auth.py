"""Logging in and out of the portal: the built-in user store's e-mail and password form (and,
when configured, OpenID Connect: `oidc`), and logout.

Guessing passwords is held back twice: per address by the gateway's anonymous rate limit, and
per account by a lockout after PROVIDER_GATEWAY_PORTAL_LOGIN_ATTEMPTS wrong passwords in a row
(for PROVIDER_GATEWAY_PORTAL_LOCKOUT_MINUTES). Each attempt is counted before its password is
checked, so guesses sent at once cannot all be checked. A refusal never says whether the address
exists. At most `people.CHECKS_AT_ONCE` checks run at once; a login that finds none free in time
is answered 503 "try again" (nothing counted).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from provider_gateway.adapters import portal_people
from provider_gateway.entrypoints.auth import limit_anonymous
from provider_gateway.portal import people, sessions
from provider_gateway.portal.web import N_, CheckedForm, CurrentPerson, Person, Refused, name_in_audit, render
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import Problem

log = structlog.get_logger("provider_gateway.portal")

router = APIRouter(prefix="/portal", include_in_schema=False)
START = "/portal/"
LOGIN_COOKIE_SECONDS = 3600


@dataclass(frozen=True)
class PasswordLogin(Person):
    """A person whose password was just checked, with the hash it matched: their session starts
    only while they still have it (not if an administrator replaced it meanwhile)."""

    checked_hash: str = field(repr=False)


def safe_next(value: str | None) -> str:
    """Where to go after login: a portal path only (never another site)."""
    if value and value.startswith("/portal/") and "//" not in value and "\\" not in value:
        return value
    return START


def _login_page(
    request: Request,
    next_path: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> Response:
    nonce = sessions.cookie(request, sessions.LOGIN_COOKIE) or secrets.token_urlsafe(24)
    settings: GatewaySettings = request.app.state.settings
    response = render(
        request,
        "login.html",
        {
            "next": next_path,
            "error": error,
            "notice": notice,
            "email": email,
            "csrf_token": sessions.login_token(request, nonce),
            "oidc": settings.portal_oidc_issuer is not None,
        },
        status_code=status_code,
    )
    sessions.set_cookie(request, response, sessions.LOGIN_COOKIE, nonce, max_age=LOGIN_COOKIE_SECONDS)
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None, ended: bool = False) -> Response:
    notice = N_("Your session has ended. Log in again.") if ended else None
    return _login_page(request, safe_next(next), notice=notice)


@router.post("/login")
async def log_in(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = START,
) -> Response:
    next_path = safe_next(next)
    request.state.client_id = f"portal:{email.strip()}"  # typed, masked in the audit row
    nonce = sessions.cookie(request, sessions.LOGIN_COOKIE)
    if not sessions.same_origin(request) or not sessions.token_matches(
        None if nonce is None else sessions.login_token(request, nonce), csrf_token
    ):
        return _login_page(
            request, next_path, error=N_("The form had expired. Try again."), email=email, status_code=403
        )
    try:
        limit_anonymous(request, "portal-login")
    except Problem:
        return _login_page(
            request,
            next_path,
            error=N_("Too many attempts. Wait a moment and try again."),
            email=email,
            status_code=429,
        )
    try:
        person = await authenticate(request, email.strip(), password)
    except people.LoginBusy:
        return _login_page(
            request,
            next_path,
            error=N_("Too many logins at once. Wait a moment and try again."),
            email=email,
            status_code=503,
        )
    if person is None:
        return _login_page(
            request,
            next_path,
            error=N_("Wrong e-mail address or password, or the account is locked for a while."),
            email=email,
            status_code=401,
        )
    return await start_session(request, person, next_path)


async def authenticate(request: Request, email: str, password: str) -> PasswordLogin | None:
    """The person whose password this is, None otherwise. The attempt is counted against the
    account before the password is checked (and the count reset when it was right), so guesses
    sent at once cannot get past the lockout. None too when the password was replaced or the
    person disabled while it was checked. Raises `people.LoginBusy` when every password
    check is taken (nothing counted then)."""
    settings: GatewaySettings = request.app.state.settings
    pool = request.app.state.runtime.pool
    async with people.checking():
        row = (
            await portal_people.login_attempt(
                pool,
                email,
                settings.portal_login_attempts,
                timedelta(minutes=settings.portal_lockout_minutes),
            )
            if email
            else None
        )
        # Unknown, locked and disabled take as long to refuse as a wrong password.
        matches = await people.verify(row["password_hash"] if row else None, password)
        cheaper = await people.rehashed(row["password_hash"], password) if row and matches else None
    if row is None:
        return None
    if not matches:
        log.info("portal login refused", reason="wrong password", provider_id=row["provider_id"])
        return None
    stored = await portal_people.login_succeeded(pool, row["person_id"], row["password_hash"], cheaper)
    if stored is None:
        log.info(
            "portal login refused",
            reason="password replaced or person disabled meanwhile",
            provider_id=row["provider_id"],
        )
        return None
    return PasswordLogin(row["person_id"], row["provider_id"], row["email"], row["display_name"], stored)


async def start_session(request: Request, person: Person, next_path: str) -> Response:
    """A new session for ``person`` (a new id at every login, never one the browser brought; the
    one it brought ends), in a cookie that lives until the browser closes; refused when the person
    was disabled (or their password replaced) since they were let in."""
    settings: GatewaySettings = request.app.state.settings
    session_id = sessions.new_session_id()
    pool = request.app.state.runtime.pool
    earlier = sessions.session_id_of(request)
    if earlier is not None:
        await portal_people.end_session(pool, sessions.session_hash(earlier))
    await portal_people.forget_expired_sessions(pool)
    started = await portal_people.start_session(
        pool,
        sessions.session_hash(session_id),
        person.person_id,
        timedelta(hours=settings.portal_session_hours),
        person.checked_hash if isinstance(person, PasswordLogin) else None,
    )
    if not started:
        log.info("portal login refused", reason="person disabled or password replaced meanwhile")
        raise Refused(401, N_("Your session has ended. Log in again."))
    name_in_audit(request, person)
    response = RedirectResponse(next_path, status_code=303)
    sessions.set_cookie(request, response, sessions.SESSION_COOKIE, session_id, max_age=None)
    sessions.delete_cookie(request, response, sessions.LOGIN_COOKIE)
    return response


@router.post("/logout")
async def log_out(request: Request, person: CurrentPerson, form: CheckedForm) -> Response:
    session_id = sessions.session_id_of(request)
    if session_id is None:  # current_person found it, so this cannot be
        raise Refused(403, N_("Your session has ended. Log in again."))
    await portal_people.end_session(request.app.state.runtime.pool, sessions.session_hash(session_id))
    response = RedirectResponse("/portal/login", status_code=303)
    sessions.delete_cookie(request, response, sessions.SESSION_COOKIE)
    return response
