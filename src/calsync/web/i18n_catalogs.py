"""Extracting the pages' messages with Babel and keeping the .po catalogs in step with them.

`python -m calsync.web.i18n_catalogs` (or `make messages`) re-extracts every message, adds the
new ones to each language's .po files (with an empty msgstr to translate) and marks the ones no
longer used as obsolete; tests/web/test_i18n_catalogs.py fails while any message is missing or
untranslated. Two domains: `messages` (templates and page code) and `js` (static scripts)."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from calsync.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR

WEB_DIR = Path(__file__).resolve().parent
PY_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_l": None, "_ln": (1, 2)}
METHODS = {
    "messages": [("templates/**.html", "jinja2.ext:babel_extract"), ("templates/**.svg", "ignore"), ("i18n*.py", "ignore"), ("**.py", "python"), ("**", "ignore")],
    "js": [("static/js/**.js", "javascript"), ("**", "ignore")],
}
OPTIONS = {
    "templates/**.html": {"extensions": "jinja2.ext.i18n"},
    "static/js/**.js": {},
}
KEYWORDS = {"messages": PY_KEYWORDS, "js": {"t": None, "calsync.t": None}}


def _wanted_directory(path: str) -> bool:
    """Our code only: not the vendored bundles, the catalogs or byte-code."""
    return Path(path).name not in {"vendor", "locale", "__pycache__"}


def extract(domain: str) -> Catalog:
    """Every message the code of `domain` asks to translate, with where each is used."""
    catalog = Catalog(domain=domain, project="calsync", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(WEB_DIR), METHODS[domain], OPTIONS, KEYWORDS[domain], comment_tags=("Translators:",), strip_comment_tags=True,
        directory_filter=_wanted_directory,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str, domain: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


def load(language: str, domain: str) -> Catalog:
    path = po_path(language, domain)
    if not path.exists():
        return Catalog(locale=language, domain=domain, project="calsync")
    with path.open("rb") as fh:
        return read_po(fh, locale=language, domain=domain)


def update() -> None:
    """Brings every language's .po files up to date with the code (keeps translations)."""
    for domain in METHODS:
        template = extract(domain)
        for language in LANGUAGES:
            if language == DEFAULT_LANGUAGE:
                continue
            catalog = load(language, domain)
            created = catalog.creation_date  # kept: a date that moves on every run only makes merge conflicts
            catalog.update(template, no_fuzzy_matching=True)
            catalog.creation_date = created
            catalog.obsolete.clear()
            path = po_path(language, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                write_po(fh, catalog, width=100, sort_output=True, ignore_obsolete=True, include_lineno=False)
            missing = [m.id for m in catalog if m.id and not m.string]
            print(f"{path.relative_to(WEB_DIR)}: {len(catalog)} messages, {len(missing)} untranslated", file=sys.stderr)


if __name__ == "__main__":
    update()
