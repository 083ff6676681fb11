"""The portal's form macros put a field's error message next to it, tie both the message and any
hint to the field for screen readers, mark the field invalid, and carry the page's CSRF token."""

from __future__ import annotations

import re

from provider_gateway.portal import web

PAGE = """{% import "_forms.html" as forms with context %}
<form>{{ forms.csrf() }}
{{ forms.field("absent_from", "Absent from", errors, type="date", hint="The first day") }}
{{ forms.textarea("note", "Note", errors) }}
{{ forms.select("plan", "Plan", plans, errors, "social-plan") }}
</form>"""


def render(errors: dict[str, str]) -> str:
    web.use_language("da")
    return web.templates.env.from_string(PAGE).render(
        errors=errors,
        csrf_token="token-123",
        plans=[("job-plan", "Job plan"), ("social-plan", "Social plan")],
    )


def test_an_error_is_shown_by_its_field_and_tied_to_it() -> None:
    page = render({"absent_from": "Required"})
    field = re.search(r"<input id=\"absent_from\"[^>]*>", page)
    assert field is not None
    assert 'aria-invalid="true"' in field.group()
    assert 'aria-describedby="absent_from-hint absent_from-error"' in field.group()
    assert '<p class="error" id="absent_from-error">Required</p>' in page
    assert '<label for="absent_from">' in page
    # The field without an error is neither marked nor described by a message.
    note = re.search(r"<textarea id=\"note\"[^>]*>", page)
    assert note is not None and "aria-invalid" not in note.group() and "aria-describedby" not in note.group()


def test_the_form_carries_the_csrf_token_and_the_chosen_option() -> None:
    page = render({})
    assert '<input type="hidden" name="csrf_token" value="token-123">' in page
    assert '<option value="social-plan" selected>Social plan</option>' in page
    assert "aria-invalid" not in page
