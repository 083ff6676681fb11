"""The provider portal speaks Danish: every text in its templates and Python (``_()``, ``N_()``)
has a Danish translation in the catalogue, the compiled catalogue says the same, and dates and
times read as Danes write them, in Danish time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations

from provider_gateway.portal import web

PORTAL = Path(web.__file__).parent
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"trimmed": "true"}}


def extracted() -> set[str]:
    ids: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(str(PORTAL), METHODS, OPTIONS):
        ids.update([message] if isinstance(message, str) else [m for m in message if m])
    return ids


def catalogue(lang: str) -> dict[str, str]:
    with (PORTAL / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {
            str(message.id): str(message.string)
            for message in read_po(po)
            if message.id and "fuzzy" not in message.flags
        }


def test_every_text_of_the_portal_has_a_danish_translation() -> None:
    texts = extracted()
    assert "Log in" in texts  # the extraction finds the templates' texts at all
    danish = catalogue("da")
    untranslated = sorted(text for text in texts if not danish.get(text))
    assert not untranslated, f"run `make portal-messages` and translate in da/messages.po: {untranslated}"


def test_the_compiled_danish_catalogue_is_the_current_one() -> None:
    compiled = Translations.load(str(PORTAL / "locale"), ["da"], domain="messages")
    stale = sorted(text for text, danish in catalogue("da").items() if compiled.gettext(text) != danish)
    assert not stale, f"run `make portal-messages` (compiles the .mo files): {stale}"


@pytest.mark.parametrize(("lang", "expected"), [("da", "2. december 2026"), ("en", "2 December 2026")])
def test_a_date_reads_as_the_language_writes_it(lang: str, expected: str) -> None:
    web.use_language(lang)
    try:
        assert web.templates.env.filters["date"](date(2026, 12, 2)) == expected
    finally:
        web.use_language(web.DEFAULT_LANGUAGE)


def test_a_time_is_shown_in_danish_time_summer_and_winter() -> None:
    show = web.templates.env.filters["datetime"]
    web.use_language("da")
    assert show(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "1. juli 2026 kl. 12:00"
    assert show(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)) == "2. december 2026 kl. 00:30"
    # A moment late in the evening UTC is the next day in Copenhagen, and its date says so.
    assert web.templates.env.filters["date"](datetime(2026, 12, 1, 23, 30, tzinfo=UTC)) == "2. december 2026"
