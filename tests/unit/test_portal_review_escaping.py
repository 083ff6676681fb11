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


def _render(source: str, lang: str, **values: object) -> str:
    from provider_gateway.portal.web import use_language

    use_language(lang)
    try:
        return templates.env.from_string(source).render(**values)
    finally:
        use_language("da")


def test_a_value_put_into_a_translated_message_is_escaped_and_the_danish_text_kept() -> None:
    page = _render('{{ _("New referral of %(name)s", name=name) }}', "da", name="<b>Søren</b> & Æble")
    assert page == "Ny henvisning af &lt;b&gt;Søren&lt;/b&gt; &amp; Æble"


def test_a_fixed_text_is_escaped_once_and_a_translated_value_not_again() -> None:
    assert _render("""{{ _("Log in with your organisation's login") }}""", "en") == (
        "Log in with your organisation&#x27;s login"
    )
    # A translation put into another (step_refused.html) is not escaped a second time.
    page = _render('{{ _("due %(date)s", date=_(x)) }}', "en", x="A & B")
    assert page == "due A &amp; B"
