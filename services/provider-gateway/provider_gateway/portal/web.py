"""What every portal page and action uses: the person logged in, the checked form, the templates
and their texts, and the audit trail.

Auditing: every request under /portal (but its static files) leaves one audit row in the same
audit table and chain as the API, written by the gateway's AuditTrail gate when the answer
starts: client_id ``portal:<e-mail>`` of the person logged in (or the address typed into the
login form), their provider, method, path and status. Set ``request.state.citizen_ref`` in a
route to name the citizen a page is about, and ``request.state.audit_detail`` (e.g.
``#search:<term>``) to say what it asked for beyond its path (written after the path). Page
views and actions are therefore audited without doing anything; `audit` writes an extra row
for a fact the request row does not say. A write that keeps its own row in its transaction
(``guards.idempotent``/``guards.audited``) marks the request recorded, and the gate writes no
second row.

Refusals: raise ``Refused(status, N_("message"))`` for an HTML page saying why (e.g. 404 for a
referral of another provider). Without a session, a GET is redirected to the login page (an htmx
request gets 401 with HX-Redirect, so the whole page goes there) and anything else gets 403.
Texts in Python are marked with ``N_()`` and translated in the template with ``{{ _(text) }}``.
A text translated in a template is escaped like any other value, the message itself and the
values put into it (Jinja's new-style gettext would take the translation as markup): a
message is text, never HTML.
"""

from __future__ import annotations

import html
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.support import NullTranslations, Translations
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from provider_gateway.adapters import portal_people
from provider_gateway.entrypoints.guards import record_audit_row
from provider_gateway.portal import sessions

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"
TIME_ZONE = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class Person:
    person_id: uuid.UUID
    provider_id: str
    email: str
    display_name: str

    @property
    def audit_name(self) -> str:
        return f"portal:{self.email}"


class LoginRequired(Exception):
    """No valid session: a GET is sent to the login page (and back to ``next`` after); ``ended``
    when the browser brought a session that has ended (the page says so)."""

    def __init__(self, next_path: str, *, ended: bool = False) -> None:
        self.next_path = next_path
        self.ended = ended


class Refused(Exception):
    """A request the portal refuses (an HTML page with ``message`` and ``status_code``)."""

    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        self.message = message


def N_(message: str) -> str:  # gettext's name for "translated later"
    """Marks a message in Python code for the catalogues; a template translates it with
    ``{{ _(message) }}`` (validation messages are passed to templates this way)."""
    return message


# --- texts -----------------------------------------------------------------------------------


def _load(lang: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [lang], domain="messages")


_TRANSLATIONS: dict[str, NullTranslations] = {lang: _load(lang) for lang in LANGUAGES}
_current: ContextVar[NullTranslations] = ContextVar(
    "portal_translations", default=_TRANSLATIONS[DEFAULT_LANGUAGE]
)
_current_lang: ContextVar[str] = ContextVar("portal_lang", default=DEFAULT_LANGUAGE)


def gettext(message: str) -> str:
    return _current.get().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current.get().ngettext(singular, plural, n)


def _escaped_gettext(message: str) -> str:
    """The translation for templates, escaped: Jinja's new-style gettext takes what this returns
    as markup and then puts the values in (escaping them), so the message is escaped here, once."""
    return html.escape(gettext(message))


def _escaped_ngettext(singular: str, plural: str, n: int) -> str:
    return html.escape(ngettext(singular, plural, n))


def language(request: Request) -> str:
    """``?lang=`` if it names one, else the language cookie, else Danish."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = sessions.cookie(request, sessions.LANG_COOKIE)
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


def use_language(lang: str) -> None:
    _current.set(_TRANSLATIONS[lang])
    _current_lang.set(lang)


def _date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(TIME_ZONE).date() if value.tzinfo else value.date()
    lang = _current_lang.get()
    return format_date(value, "d. MMMM y" if lang == "da" else "d MMMM y", locale=lang)


def _datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    lang = _current_lang.get()
    pattern = "d. MMMM y 'kl.' HH:mm" if lang == "da" else "d MMMM y, HH:mm"
    return format_datetime(value, pattern, tzinfo=TIME_ZONE, locale=lang)


templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
)
templates.env.install_gettext_callables(_escaped_gettext, _escaped_ngettext, newstyle=True)  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
templates.env.filters["date"] = _date
templates.env.filters["datetime"] = _datetime
templates.env.policies["ext.i18n.trimmed"] = True


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """The page ``template`` with ``context`` and ``person`` (None before login), ``csrf_token``
    (the session's, unless the context brings its own) and ``lang``, in the request's language
    (``?lang=`` is kept in a cookie)."""
    lang = language(request)
    use_language(lang)
    full = {
        "person": getattr(request.state, "person", None),
        "csrf_token": sessions.csrf_token(request),
        "lang": lang,
        "path": request.url.path,
        **context,
    }
    response: HTMLResponse = templates.TemplateResponse(request, template, full, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        sessions.set_cookie(request, response, sessions.LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


# --- who is asking ---------------------------------------------------------------------------


async def current_person(request: Request) -> Person:
    """The person of the request's session, the session marked used. Without a valid one (none,
    ended, idle too long, or the person disabled) a GET is sent to the login page and anything
    else refused 403."""
    cached: Person | None = getattr(request.state, "person", None)
    if cached is not None:
        return cached
    session_id = sessions.session_id_of(request)
    row = None
    if session_id is not None:
        settings = request.app.state.settings
        row = await portal_people.use_session(
            request.app.state.runtime.pool,
            sessions.session_hash(session_id),
            _minutes(settings.portal_idle_minutes),
        )
    if row is None:
        if request.method in ("GET", "HEAD"):
            raise LoginRequired(
                request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                ended=session_id is not None,
            )
        raise Refused(403, N_("Your session has ended. Log in again."))
    person = Person(row["person_id"], row["provider_id"], row["email"], row["display_name"])
    name_in_audit(request, person)
    request.state.person = person
    return person


CurrentPerson = Annotated[Person, Depends(current_person)]


async def checked_form(request: Request, person: CurrentPerson) -> FormData:
    """The posted form, refused 403 (nothing done) unless it carries the session's CSRF token
    (field ``csrf_token``) and, when the browser names one, comes from this gateway's origin."""
    form = await request.form()
    if not sessions.same_origin(request) or not sessions.token_matches(
        sessions.csrf_token(request), form.get("csrf_token")
    ):
        raise Refused(403, N_("The form had expired or did not come from this page. Try again."))
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def name_in_audit(request: Request, person: Person) -> None:
    """The request's audit row names ``person`` and their provider."""
    request.state.client_id = person.audit_name
    request.state.provider_id = person.provider_id


async def audit(request: Request, person: Person, action: str, target: str | None) -> None:
    """An extra audit row, beside the request's own (see the module docstring): ``action`` done
    by ``person`` on ``target`` (e.g. a referral id), written at once."""
    path = f"{request.url.path}#{action}" + (f":{target}" if target else "")
    await record_audit_row(
        request.app.state.runtime.pool,
        client_id=person.audit_name,
        provider_id=person.provider_id,
        method=request.method,
        path=path,
        citizen_ref=getattr(request.state, "citizen_ref", None),
        status=200,
    )


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)
