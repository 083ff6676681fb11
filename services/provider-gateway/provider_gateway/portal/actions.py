"""The portal's actions on a referral (the steps of its lifecycle) and its four report forms.

They write through the service-layer functions the API calls (`referral_steps`, `reports`),
with the same pydantic models and the same Idempotency-Key store (`guards.keyed`): every form
carries a key made when the form is rendered, so a double click or a form sent again does one
step or makes one report, and the second answer is the first one's. A form the models refuse is
shown again with the values kept and a Danish message by each field (422), and nothing is
written. Each request's audit row names the person (see `web`); a write's row commits with it.
"""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from provider_gateway.adapters import repository
from provider_gateway.domain.lifecycle import (
    ACTIONS,
    IllegalTransition,
    ReferralClosed,
    ReferralNotFound,
    allowed_actions,
)
from provider_gateway.entrypoints import guards
from provider_gateway.portal.web import N_, CheckedForm, CurrentPerson, Person, Refused, render, templates
from provider_gateway.service_layer import keys, referral_steps, reports
from provider_gateway.service_layer.referral_steps import StepIn
from provider_gateway.service_layer.reports import REPORT_KINDS, ReportKind, SubmissionAccepted
from samspil.runtime import idempotency
from samspil.runtime.cpr_guard import CPR_FIELDS
from samspil.runtime.db import Connection
from samspil.runtime.http import Problem
from schemas.provider_reports import (
    AbsenceReason,
    ChangeKind,
    ContactChannel,
    ProgressionRating,
    ReadyFor,
    Recommendation,
    TargetPlan,
    Urgency,
)
from schemas.referrals import (
    CATEGORISED_STEPS,
    CLOSED_STATUSES,
    CompletionCategory,
    ReasonCategory,
    ReferralCompleted,
    ReferralStatus,
)

router = APIRouter(prefix="/portal", include_in_schema=False)
# Where the forms below post: a CPR number typed into one of their fields is taken out before
# the route sees it and named in the request's state (`samspil.runtime.cpr_guard`), so the
# form is shown again with a message by the field, never with the number.
PORTAL_REFERRAL_FORMS = "/portal/referrals/"

FORM_KEY = "idempotency_key"
# The portal's keys are its own (a random id made per rendered form) in the API's key store,
# apart from any key a provider's system sends.
_KEY_PREFIX = "portal:"
ATTEMPT_ROWS = 3


_NOT_RECORDED = N_("Nothing was done: it could not be recorded just now. Try again in a moment.")
_NO_KEY = N_("The form is missing its key. Open the page again and try once more.")


def new_form_key() -> str:
    """A random key of letters only (never mistaken for a CPR number by the guard)."""
    return "".join(secrets.choice(string.ascii_letters) for _ in range(32))


# --- texts -----------------------------------------------------------------------------------

STATUS_NAMES = {
    ReferralStatus.REQUESTED: N_("new"),
    ReferralStatus.ACCEPTED: N_("accepted"),
    ReferralStatus.REJECTED: N_("rejected"),
    ReferralStatus.IN_PROGRESS: N_("in progress"),
    ReferralStatus.ON_HOLD: N_("on hold"),
    ReferralStatus.COMPLETED: N_("completed"),
    ReferralStatus.FAILED: N_("failed"),
    ReferralStatus.CANCELLED: N_("cancelled"),
}

ACTION_NAMES = {
    "accept": N_("Accept"),
    "reject": N_("Reject"),
    "start": N_("Start"),
    "hold": N_("Put on hold"),
    "resume": N_("Resume"),
    "complete": N_("Complete"),
    "fail": N_("Mark as failed"),
    "cancel": N_("Cancel the referral"),
}

REPORT_NAMES = {
    "absence-notice": N_("Absence notice"),
    "progress-report": N_("Progress report"),
    "readiness-report": N_("Readiness report"),
    "plan-change-request": N_("Plan-change request"),
}

REASON_CATEGORIES = [
    (ReasonCategory.CITIZEN_ILL, N_("The citizen is ill or in treatment")),
    (ReasonCategory.CITIZEN_MOVED, N_("The citizen moved away")),
    (ReasonCategory.CITIZEN_EMPLOYED, N_("The citizen got a job or education")),
    (ReasonCategory.CITIZEN_DID_NOT_ATTEND, N_("The citizen did not attend")),
    (ReasonCategory.OFFER_UNSUITABLE, N_("The offer does not fit the citizen")),
    (ReasonCategory.PROVIDER_CAPACITY, N_("We have no place for the citizen")),
    (ReasonCategory.PLAN_CHANGED, N_("The citizen's plan changed")),
    (ReasonCategory.OTHER, N_("Other")),
]
OUTCOME_CATEGORIES = [
    (CompletionCategory.JOB, N_("A job (flexjob included)")),
    (CompletionCategory.EDUCATION, N_("Education")),
    (CompletionCategory.NEXT_OFFER, N_("Another offer or an internship")),
    (CompletionCategory.OTHER, N_("Other")),
]

_REQUIRED = N_("Fill in this field.")
_CPR = N_("Remove the CPR number: it may not be written here.")
_ERRORS_BY_TYPE = {
    "missing": _REQUIRED,
    "required": _REQUIRED,
    "string_too_short": _REQUIRED,
    "date_parsing": N_("Enter a date (day, month and year)."),
    "date_from_datetime_parsing": N_("Enter a date (day, month and year)."),
    "date_type": N_("Enter a date (day, month and year)."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "greater_than_equal": N_("Enter a number from 0 to 100."),
    "less_than_equal": N_("Enter a number from 0 to 100."),
    "enum": N_("Choose one of the options."),
    "too_long": N_("Too many attempts: at most 100."),
}
_TOO_LONG = {
    200: N_("Write at most 200 characters."),
    500: N_("Write at most 500 characters."),
    4000: N_("Write at most 4000 characters."),
}
# The models' own rules, by the start of their (English) message.
_ERRORS_BY_RULE = {
    "must not contain a CPR number": _CPR,
    "must not contain control characters": N_("The text holds characters that cannot be used."),
    "must not be before the start": N_("The end may not be before the start."),
    "is required when reason is": N_("Write the reason when you choose 'Other'."),
    "is required when concern is": N_("Describe the concern when you tick it."),
    "is required when ready_for is": N_("Write what for when you choose 'Other'."),
    "is required when a referral becomes": N_("Give a reason for this step."),
}
_CHECK_FIELD = N_("Check this field.")


def cpr_errors(request: Request) -> dict[str, str]:
    """The fields whose CPR number the guard took out, each with its message."""
    return {name: _CPR for name in getattr(request.state, CPR_FIELDS, None) or ()}


def field_errors(
    error: ValidationError, names: dict[tuple[Any, ...], str] | None = None, known: set[str] | None = None
) -> dict[str, str]:
    """A message for each field a model refused (the first for a field), keyed by the form's
    field name: the name ``names`` gives the location (an empty name: not shown), else its first
    element; a field the form does not have (``known``) is named ``_form``, for the top."""
    found: dict[str, str] = {}
    for item in error.errors(include_input=False, include_url=False):
        location = tuple(item["loc"])
        field = (names or {}).get(location)
        if field is None:
            field = str(location[0]) if location else "_form"
            if known is not None and field not in known:
                field = "_form"
        if field:
            found.setdefault(field, _message(item))
    return found


def _message(item: Any) -> str:
    kind = item["type"]
    if kind == "string_too_long":
        limit = (item.get("ctx") or {}).get("max_length")
        return _TOO_LONG.get(limit, _CHECK_FIELD) if isinstance(limit, int) else _CHECK_FIELD
    if kind in _ERRORS_BY_TYPE:
        return _ERRORS_BY_TYPE[kind]
    text = str(item.get("msg", "")).removeprefix("Value error, ")
    for rule, message in _ERRORS_BY_RULE.items():
        if rule in text:
            return message
    return _CHECK_FIELD


# --- the report forms ------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A field of a report form: its name (the model's), label, widget (text, date, number,
    textarea, select, checkbox), options for a select, and whether it must be filled in."""

    name: str
    label: str
    widget: str = "text"
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    hint: str | None = None


def _options(*pairs: tuple[Any, str]) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), label) for value, label in pairs)


REPORT_FIELDS: dict[str, tuple[Field, ...]] = {
    "absence-notice": (
        Field("absent_from", N_("First day of absence"), "date", required=True),
        Field(
            "absent_to",
            N_("Last day of absence"),
            "date",
            hint=N_("Leave it empty while the absence lasts."),
        ),
        Field(
            "reason",
            N_("Reason for the absence"),
            "select",
            _options(
                (AbsenceReason.UNKNOWN, N_("Unknown")),
                (AbsenceReason.ILLNESS, N_("Illness")),
                (AbsenceReason.TREATMENT, N_("Treatment")),
                (AbsenceReason.PERSONAL, N_("Personal reasons")),
                (AbsenceReason.OTHER, N_("Other")),
            ),
        ),
        Field("reason_text", N_("The reason, when it is 'Other'")),
        Field("comment", N_("Comment"), "textarea"),
    ),
    "progress-report": (
        Field("period_from", N_("Period from"), "date", required=True),
        Field("period_to", N_("Period to"), "date", required=True),
        Field(
            "progression",
            N_("Progression"),
            "select",
            _options(
                ("", N_("Choose")),
                (ProgressionRating.CLEAR, N_("Clear progression")),
                (ProgressionRating.SOME, N_("Some progression")),
                (ProgressionRating.NONE, N_("No progression")),
                (ProgressionRating.REGRESSED, N_("Regressed")),
            ),
            required=True,
        ),
        Field(
            "attendance_percent",
            N_("Attendance (percent of planned days)"),
            "number",
            required=True,
        ),
        Field("summary", N_("Summary"), "textarea", required=True),
        Field(
            "recommendation",
            N_("Recommendation"),
            "select",
            _options(
                ("", N_("Choose")),
                (Recommendation.CONTINUE, N_("Continue as now")),
                (Recommendation.ADJUST, N_("Adjust the offer")),
                (Recommendation.READY_FOR_MORE, N_("Ready for more")),
                (Recommendation.END, N_("End the offer")),
            ),
            required=True,
        ),
        Field("concern", N_("We are worried about the citizen"), "checkbox"),
        Field("concern_text", N_("What worries you"), hint=N_("Required when you are worried.")),
    ),
    "readiness-report": (
        Field(
            "ready_for",
            N_("The citizen is ready for"),
            "select",
            _options(
                ("", N_("Choose")),
                (ReadyFor.EMPLOYMENT_OFFER, N_("An employment offer")),
                (ReadyFor.COMPANY_INTERNSHIP, N_("A company internship")),
                (ReadyFor.EDUCATION, N_("Education")),
                (ReadyFor.MORE_HOURS, N_("More hours")),
                (ReadyFor.SOCIAL_MEASURE, N_("A social measure")),
                (ReadyFor.OTHER, N_("Other")),
            ),
            required=True,
        ),
        Field("ready_for_text", N_("What, when it is 'Other'")),
        Field("justification", N_("Justification"), "textarea", required=True),
    ),
    "plan-change-request": (
        Field(
            "target_plan",
            N_("Which plan"),
            "select",
            _options(
                ("", N_("Choose")),
                (TargetPlan.JOB_PLAN, N_("The job plan (the jobcenter)")),
                (TargetPlan.SOCIAL_PLAN, N_("The social plan (the social department)")),
            ),
            required=True,
        ),
        Field(
            "change_kind",
            N_("What should change"),
            "select",
            _options(
                ("", N_("Choose")),
                (ChangeKind.HOURS, N_("The hours")),
                (ChangeKind.CONTENT, N_("The content")),
                (ChangeKind.PAUSE, N_("A pause")),
                (ChangeKind.END, N_("An end")),
                (ChangeKind.NEW_ACTIVITY, N_("A new activity")),
                (ChangeKind.OTHER, N_("Other")),
            ),
            required=True,
        ),
        Field("proposed_change", N_("The change you propose"), "textarea", required=True),
        Field("reason", N_("Why"), "textarea", required=True),
        Field(
            "urgency",
            N_("Urgency"),
            "select",
            _options(
                (Urgency.ROUTINE, N_("Routine")),
                (Urgency.SOON, N_("Soon")),
                (Urgency.URGENT, N_("Urgent")),
            ),
        ),
    ),
}

CONTACT_CHANNELS = _options(
    ("", N_("Choose")),
    (ContactChannel.PHONE, N_("Phone")),
    (ContactChannel.TEXT_MESSAGE, N_("Text message")),
    (ContactChannel.EMAIL, N_("E-mail")),
    (ContactChannel.LETTER, N_("Letter")),
    (ContactChannel.HOME_VISIT, N_("Home visit")),
)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def report_values(kind: str, form: FormData) -> dict[str, str]:
    """The form's values as typed (to show them again), the contact attempts' rows included."""
    values = {field.name: _text(form, field.name) for field in REPORT_FIELDS[kind]}
    if kind == "absence-notice":
        for row in range(ATTEMPT_ROWS):
            for part in ("on", "channel"):
                values[f"attempt_{part}_{row}"] = _text(form, f"attempt_{part}_{row}")
    return values


def report_body(kind: str, values: dict[str, str]) -> tuple[dict[str, Any], dict[tuple[Any, ...], str]]:
    """The API's request body for the values (a field left empty is left out, so its default or
    its rule applies), and the form's field name for each location inside a list."""
    body: dict[str, Any] = {}
    for field in REPORT_FIELDS[kind]:
        value = values[field.name]
        if field.widget == "checkbox":
            body[field.name] = bool(value)
        elif value:
            body[field.name] = value
    names: dict[tuple[Any, ...], str] = {}
    if kind == "absence-notice":
        attempts: list[dict[str, Any]] = []
        for row in range(ATTEMPT_ROWS):
            on, channel = values[f"attempt_on_{row}"], values[f"attempt_channel_{row}"]
            if not (on or channel):
                continue
            index = len(attempts)
            attempts.append({**({"on": on} if on else {}), "channel": channel or None})
            # The body's contact attempts are a list or a count: a list's errors name its branch.
            for branch in (("list[ContactAttempt]",), ()):
                names[("contact_attempts", *branch, index, "on")] = f"attempt_on_{row}"
                names[("contact_attempts", *branch, index, "channel")] = f"attempt_channel_{row}"
        body["contact_attempts"] = attempts
        # Sent as a list, the body's other branch (a count) is not the form's to explain.
        names[("contact_attempts", "constrained-int")] = ""
    return body, names


def whole_report_errors(
    kind: ReportKind, data: dict[str, Any], names: dict[tuple[Any, ...], str], known: set[str]
) -> dict[str, str]:
    """The report model's own refusals of the form's data (its rules across fields, such as an
    end before the start), so a form the body model refused shows them too, all at once."""
    ids = {"submission_id": uuid.uuid4(), "referral_id": uuid.uuid4(), "provider_id": "portal"}
    try:
        kind.report.model_validate({**data, **ids})
    except ValidationError as error:
        return field_errors(error, names, known)
    return {}


# --- the routes ------------------------------------------------------------------------------


async def _referral(request: Request, person: Person, referral_id: uuid.UUID) -> Any:
    """The person's provider's referral, named in the request's audit row; 404 when it is not
    theirs, as when it does not exist."""
    pool = request.app.state.runtime.pool
    row = await repository.referral_for_provider(pool, referral_id, person.provider_id)
    if row is None:
        raise Refused(404, N_("There is no such referral."))
    request.state.citizen_ref = row["citizen_ref"]
    return row


def _request_key(request: Request, form: FormData, content: str) -> keys.RequestKey:
    """The form's key as the API's key store keeps it, and the request it stands for: the path
    and what the models made of the form (not its CSRF token), so the same form sent twice is one
    request and the key with other values another."""
    secret: str = request.app.state.settings.dead_letter_key
    sent = form.get(FORM_KEY)
    try:
        kept = idempotency.kept_key(_KEY_PREFIX + sent if isinstance(sent, str) else None, secret)
    except Problem:
        raise Refused(400, _NO_KEY) from None
    return keys.RequestKey(kept, idempotency.request_hash("POST", request.url.path, content.encode(), secret))


async def _keyed(request: Request, person: Person, key: keys.RequestKey, work: keys.Work) -> keys.Outcome:
    try:
        return await guards.keyed(request, person.provider_id, key, work, audit_status=303)
    except Problem as problem:
        if problem.kind == "idempotency-key-reused":
            raise Refused(
                409,
                N_("This form was already sent with other values. Open the referral again to continue."),
            ) from None
        # The audit row could not be written, so nothing was done (the API answers 503 too).
        raise Refused(problem.status, _NOT_RECORDED) from None


def _referral_page(referral_id: uuid.UUID) -> RedirectResponse:
    return RedirectResponse(f"/portal/referrals/{referral_id}", status_code=303)


class StepTaken(BaseModel):
    referral_id: uuid.UUID
    status: ReferralStatus


def step_form(action: str) -> dict[str, Any]:
    """What a step's form asks for: a reason (required or not), an outcome, a category."""
    step = ACTIONS[action]
    return {
        "action": action,
        "label": ACTION_NAMES[action],
        "reason": step.model_fields["reason"].is_required(),
        "outcome": step is ReferralCompleted,
        "categories": REASON_CATEGORIES if step in CATEGORISED_STEPS else None,
        "outcome_categories": OUTCOME_CATEGORIES if step is ReferralCompleted else None,
    }


def actions_for(status: Any) -> list[dict[str, Any]]:
    """The forms of the steps the state machine allows a referral in ``status`` (for
    `referral_actions.html`)."""
    return [step_form(action) for action in allowed_actions(ReferralStatus(status))]


def reports_for(status: Any) -> list[dict[str, str]]:
    """The report forms open to a referral in ``status`` (none once it is closed)."""
    if ReferralStatus(status) in CLOSED_STATUSES:
        return []
    return [{"kind": kind, "label": label} for kind, label in REPORT_NAMES.items()]


templates.env.globals["new_form_key"] = new_form_key
templates.env.globals["referral_actions"] = actions_for
templates.env.globals["referral_reports"] = reports_for
templates.env.globals["referral_status_name"] = lambda status: STATUS_NAMES[ReferralStatus(status)]


def _step(action: str) -> Any:
    step = ACTIONS.get(action)
    if step is None:
        raise Refused(404, N_("There is no such step."))
    return step


def _step_page(
    request: Request,
    referral: Any,
    action: str,
    values: dict[str, str],
    errors: dict[str, str],
    form_key: str,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "referral_step.html",
        {
            "referral": referral,
            "step": step_form(action),
            "values": values,
            "errors": errors,
            "form_key": form_key,
            "status_name": STATUS_NAMES[ReferralStatus(referral["status"])],
        },
        status_code=status_code,
    )


def _refused_step(
    request: Request, referral_id: uuid.UUID, current: ReferralStatus, status_code: int
) -> Response:
    return render(
        request,
        "step_refused.html",
        {"referral_id": referral_id, "status_name": STATUS_NAMES[current]},
        status_code=status_code,
    )


@router.get("/referrals/{referral_id}/steps/{action}")
async def step_page(referral_id: uuid.UUID, action: str, request: Request, person: CurrentPerson) -> Response:
    """One step's form on its own page (also where a refused form is shown again)."""
    _step(action)
    referral = await _referral(request, person, referral_id)
    current = ReferralStatus(referral["status"])
    if action not in allowed_actions(current):
        return _refused_step(request, referral_id, current, 409)
    return _step_page(request, referral, action, {}, {}, new_form_key())


@router.post("/referrals/{referral_id}/steps/{action}")
async def take_step(
    referral_id: uuid.UUID, action: str, request: Request, person: CurrentPerson, form: CheckedForm
) -> Response:
    """Take a step as the API's step does; a refused form is shown again (422), a step the
    referral's status no longer allows is explained (409), and 303 to the referral once done."""
    step = _step(action)
    fields = ("reason", "reason_category", "outcome", "outcome_category")
    values = {name: _text(form, name) for name in fields}
    errors = cpr_errors(request)
    try:
        body = StepIn.model_validate({name: value for name, value in values.items() if value})
        details = referral_steps.step_details(step, referral_id, person.provider_id, body)
    except ValidationError as error:
        errors = {**field_errors(error), **errors}
    if errors:
        referral = await _referral(request, person, referral_id)
        form_key = _text(form, FORM_KEY) or new_form_key()
        return _step_page(request, referral, action, values, errors, form_key, 422)
    key = _request_key(request, form, f"{action}\n{body.model_dump_json()}")

    async def work(conn: Connection) -> tuple[int, BaseModel]:
        row = await referral_steps.take_step(conn, person.provider_id, referral_id, step, details)
        request.state.citizen_ref = row["citizen_ref"]
        return 200, StepTaken(referral_id=referral_id, status=row["status"])

    try:
        await _keyed(request, person, key, work)
    except ReferralNotFound:
        raise Refused(404, N_("There is no such referral.")) from None
    except IllegalTransition as illegal:
        return _refused_step(request, referral_id, illegal.current, 409)
    return _referral_page(referral_id)


def _report_kind(kind: str) -> Any:
    found = REPORT_KINDS.get(kind)
    if found is None:
        raise Refused(404, N_("There is no such report."))
    return found


def _report_page(
    request: Request,
    referral: Any,
    kind: str,
    values: dict[str, str],
    errors: dict[str, str],
    form_key: str,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "report_form.html",
        {
            "referral": referral,
            "kind": kind,
            "title": REPORT_NAMES[kind],
            "fields": REPORT_FIELDS[kind],
            "attempt_rows": range(ATTEMPT_ROWS) if kind == "absence-notice" else (),
            "channels": CONTACT_CHANNELS,
            "values": values,
            "errors": errors,
            "form_key": form_key,
        },
        status_code=status_code,
    )


def _open(referral: Any) -> None:
    if referral["status"] in CLOSED_STATUSES:
        raise Refused(409, N_("The referral is closed: it takes no more reports."))


@router.get("/referrals/{referral_id}/reports/{kind}")
async def report_form(referral_id: uuid.UUID, kind: str, request: Request, person: CurrentPerson) -> Response:
    _report_kind(kind)
    referral = await _referral(request, person, referral_id)
    _open(referral)
    return _report_page(request, referral, kind, {}, {}, new_form_key())


@router.post("/referrals/{referral_id}/reports/{kind}")
async def submit_report(
    referral_id: uuid.UUID, kind: str, request: Request, person: CurrentPerson, form: CheckedForm
) -> Response:
    """Send the report as the API's report endpoint does; a refused form is shown again (422)
    with nothing written; 303 to the submission's page once sent (also for the same form sent
    again: the first report's page)."""
    report_kind = _report_kind(kind)
    values = report_values(kind, form)
    data, names = report_body(kind, values)
    errors = cpr_errors(request)
    try:
        body = report_kind.body.model_validate(data)
        report = reports.build_report(report_kind, referral_id, person.provider_id, body)
    except ValidationError as error:
        found = field_errors(error, names, set(values))
        errors = {**whole_report_errors(report_kind, data, names, set(values)), **found, **errors}
    if errors:
        referral = await _referral(request, person, referral_id)
        form_key = _text(form, FORM_KEY) or new_form_key()
        return _report_page(request, referral, kind, values, errors, form_key, 422)
    key = _request_key(request, form, body.model_dump_json())

    async def work(conn: Connection) -> tuple[int, BaseModel]:
        request.state.citizen_ref = await reports.record_report(conn, person.provider_id, kind, report)
        return 202, SubmissionAccepted(submission_id=report.submission_id)

    try:
        outcome = await _keyed(request, person, key, work)
    except ReferralNotFound:
        raise Refused(404, N_("There is no such referral.")) from None
    except ReferralClosed:
        raise Refused(409, N_("The referral is closed: it takes no more reports.")) from None
    submission_id = outcome.answer.content["submission_id"]
    return RedirectResponse(f"/portal/submissions/{submission_id}", status_code=303)
