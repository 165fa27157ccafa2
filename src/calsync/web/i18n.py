"""The pages' language: which one a viewer gets, and the gettext catalogs that translate them.

English is the source language (the msgids); Japanese comes from locale/ja/LC_MESSAGES: the
`messages` domain for templates and page code, the `js` domain for the static scripts (sent to
the browser whole as JSON). The .po files are the only source: they are compiled in memory the
first time a language is used, so no compiled .mo can go stale or be forgotten in a release.
The REST API never calls into this module: its messages stay English with stable codes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANGUAGE = "en"
# The languages a user can choose, each named in its own language (what the picker shows).
LANGUAGES: dict[str, str] = {"en": "English", "ja": "日本語"}
DOMAINS = ("messages", "js")

_current: ContextVar[str] = ContextVar("calsync_language", default=DEFAULT_LANGUAGE)


def supported(language: str | None) -> str | None:
    """`language` if the pages speak it (a region such as "ja-JP" counts as "ja"), else None."""
    if not language:
        return None
    base = language.strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else None


def from_accept_language(header: str | None) -> str:
    """The browser's most preferred language among ours (RFC 9110 q-values), else English."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        language = supported(tag)
        # equal weights: the earlier tag wins (the header lists the browser's order)
        if language is not None and q > best_q:
            best, best_q = language, q
    return best


def choose(user_language: str | None, accept_language: str | None) -> str:
    """The user's own choice when they made one, else what the browser asks for."""
    return supported(user_language) or from_accept_language(accept_language)


@lru_cache(maxsize=None)
def translations(language: str, domain: str = "messages") -> NullTranslations:
    """The compiled catalog of one language and domain (English: the msgids themselves)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(buffer, domain=domain)


@lru_cache(maxsize=None)
def js_messages(language: str) -> dict[str, str]:
    """Every translated message of the scripts, msgid -> text, for the page to embed."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "js.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain="js")
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy and isinstance(m.id, str)}


def current() -> str:
    """The language of the page being rendered."""
    return _current.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Renders inside this block speak `language` (set per request by `rendering.render`)."""
    token = _current.set(supported(language) or DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def _l(message: str, **values: object) -> LazyProxy:
    """A message made before the page's language is known (a form error in a route), translated
    and filled in when the template prints it, inside `speaking`."""
    return LazyProxy(lambda: gettext(message) % values if values else gettext(message), enable_cache=False)


def _ln(singular: str, plural: str, n: int, **values: object) -> LazyProxy:
    """`_l` with a plural form chosen by `n` (also passed to the text as %(n)s)."""
    return LazyProxy(lambda: ngettext(singular, plural, n) % {"n": n, **values}, enable_cache=False)


def lazy(make: Callable[[], str]) -> LazyProxy:
    """Text built from several messages, put together when the page prints it."""
    return LazyProxy(make, enable_cache=False)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; it is translated where it is shown
    (module-level labels exist before any request has a language)."""
    return message


_ = gettext
