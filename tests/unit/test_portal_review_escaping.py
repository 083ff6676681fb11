"""Security review of the provider portal: a text translated in a template with ``_()`` is escaped
like any other value. Jinja's new-style gettext marks what ``_()`` returns as safe markup, so
``{{ _(message) }}`` on a message that carries anything typed (refused.html, _forms.html's
errors) would reach the page as HTML."""

from __future__ import annotations

from provider_gateway.portal.web import templates


def test_a_message_translated_in_a_template_is_escaped() -> None:
    page = templates.env.get_template("refused.html").render(
        message="<img src=x onerror=alert(1)>", lang="da", path="/portal/x", person=None, csrf_token=None
    )
    assert "<img src=x" not in page
