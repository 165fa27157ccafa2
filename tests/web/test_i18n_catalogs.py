"""The Japanese catalogs hold every message the pages and their scripts show.

The messages are extracted from the code with Babel, exactly as `make messages` does
(calsync.web.i18n_catalogs), and compared with locale/ja/LC_MESSAGES/*.po: a string wrapped in
a template (or a script) and not yet in the catalog, or in it without a Japanese text, fails
here with its msgid and where it is used."""

from __future__ import annotations

import pytest

from calsync.web import i18n
from calsync.web.i18n_catalogs import extract, load


def _translated(entry) -> bool:  # type: ignore[no-untyped-def]
    """In the catalog, not fuzzy, and every form (plurals have several) has a text."""
    if entry is None or entry.fuzzy:
        return False
    forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    return bool(forms) and all(forms)


@pytest.mark.parametrize("domain", ["messages", "js"])
def test_every_message_of_the_code_has_a_japanese_translation(domain: str) -> None:
    wanted = extract(domain)
    catalog = load("ja", domain)
    assert len(wanted) > 0
    missing = [f"{m.id!r} ({', '.join(f for f, _ in m.locations)})" for m in wanted
               if m.id and not _translated(catalog.get(m.id))]
    assert missing == [], f"not translated in ja/{domain}.po (run `make messages`, then translate):\n" + "\n".join(missing)


@pytest.mark.parametrize("domain", ["messages", "js"])
def test_translations_keep_the_placeholders_of_their_message(domain: str) -> None:
    """A msgstr that drops or renames %(name)s / {name} would print wrong or raise at render time."""
    import re

    catalog = load("ja", domain)
    pattern = re.compile(r"%\((\w+)\)s|\{(\w+)\}")
    wrong = []
    for m in catalog:
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        texts = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in texts:
            if m.id and text and sorted(pattern.findall(ids[-1])) != sorted(pattern.findall(text)):
                wrong.append(f"{m.id!r} -> {text!r}")
    assert wrong == []


def test_the_catalog_is_what_the_pages_use() -> None:
    """The compiled catalog answers in Japanese (the .po is read, not only present)."""
    assert i18n.translations("ja").gettext("Calendar") != "Calendar"
    assert i18n.translations("en").gettext("Calendar") == "Calendar"


@pytest.mark.parametrize(("header", "expected"), [
    ("ja", "ja"), ("ja-JP,ja;q=0.9,en;q=0.8", "ja"), ("en-US,en;q=0.9,ja;q=0.8", "en"),
    ("fr-FR,ja;q=0.5", "ja"), ("de", "en"), ("", "en"), (None, "en"), ("en;q=0.2, ja;q=0.7", "ja"),
    ("ja;q=0", "en"), ("ja;q=oops", "en"),
])
def test_the_browser_language_is_the_default(header: str | None, expected: str) -> None:
    assert i18n.choose(None, header) == expected


def test_a_users_own_choice_wins_over_the_browser() -> None:
    assert i18n.choose("en", "ja") == "en"
    assert i18n.choose("ja", "en-US") == "ja"
    assert i18n.choose("xx", "ja") == "ja"  # an unknown stored value falls back to the browser


def test_every_template_compiles() -> None:
    """Babel's Jinja2 extractor skips a template it cannot parse, silently: such a template's
    strings would be missing from the catalog without the test above noticing."""
    from calsync.web.pages.rendering import WEB_DIR, templates

    names = [p.relative_to(WEB_DIR / "templates").as_posix() for p in (WEB_DIR / "templates").rglob("*.html")]
    assert len(names) > 10
    for name in names:
        templates.env.get_template(name)
