"""Jinja2 templates and what every page gets: the signed-in user, the CSRF token, the nav."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy.orm import Session

from calsync import __version__
from calsync.crm.services import sync_health
from calsync.crm.services.sync_health import Problem
from calsync.store.tables import User
from calsync.sync.repository import account_of_user
from calsync.web import i18n, sessions, sync_reasons
from calsync.web.deps import get_session
from calsync.web.pages.csrf import token_for
from calsync.web.i18n import N_
from calsync.web.pages.formatting import format_day, format_instant, format_when, js_format

WEB_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.globals["version"] = __version__
# `{{ _("…") }}` and `{% trans %}` in every template; the language is the one `render` sets.
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.globals["languages"] = i18n.LANGUAGES
templates.env.globals["js_messages"] = lambda: i18n.js_messages(i18n.current())
# The CRM's sync reasons (English in the API) in the page's language: `{{ sync.reason|reason }}`.
templates.env.filters["reason"] = sync_reasons.translate
templates.env.globals["reason_patterns"] = sync_reasons.js_patterns

# The icons an activity type can have (symbols in templates/_icons.svg).
ICONS = ["calendar", "phone", "users", "check", "flag", "mail", "utensils", "star", "monitor", "map-pin"]
templates.env.globals["known_icons"] = ICONS
templates.env.globals["all_icons"] = ICONS + ["busy", "lock", "repeat"]

SYNC_LABELS = {
    "synced": N_("Synced"),
    "pending": N_("Pending"),
    "error": N_("Sync error"),
    "not_synced": N_("Not synced"),
    "no_account": N_("No calendar connected"),
    "paused": N_("Sync paused"),
    "problem": N_("Sync problem"),
}
templates.env.globals["sync_labels"] = SYNC_LABELS


def _viewer(context: Any) -> tuple[str, str | None]:
    """The zone and language of the viewer (UTC for a visitor; the language `render` chose)."""
    user = context.get("user")
    return (getattr(user, "timezone", None) or "UTC", i18n.current())


# The one way templates print a time: `{{ a|when }}`, `{{ moment|instant }}`, `{{ date|day }}`.
templates.env.filters["when"] = pass_context(lambda ctx, item: format_when(item, *_viewer(ctx)))
templates.env.filters["instant"] = pass_context(lambda ctx, value: format_instant(value, *_viewer(ctx)))
templates.env.filters["day"] = pass_context(lambda ctx, value: format_day(value, *_viewer(ctx)))
templates.env.globals["time_format"] = pass_context(lambda ctx: js_format(*_viewer(ctx)))


class SignInRequired(Exception):
    """Raised by `page_user` when no one is signed in; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def page_user(request: Request, session: Session = Depends(get_session)) -> User:
    """The user of the session cookie, or a redirect to the sign-in page."""
    user = sessions.signed_in_user(request, session)
    if user is not None:
        request.state.page_session = session  # for the sync-problem banner of `render`
        return user
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise SignInRequired(path)


def login_redirect(request: Request, exc: SignInRequired) -> Response:
    target = f"/login?next={quote(exc.next_path)}"
    if request.headers.get("hx-request"):
        return HTMLResponse("", headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def page_language(request: Request, user: User | None) -> str:
    """The language a page speaks: the user's choice, else the browser's Accept-Language."""
    return i18n.choose(getattr(user, "language", None), request.headers.get("accept-language"))


def render(request: Request, name: str, user: User | None = None, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Renders a template with the common values every layout needs, in the viewer's language."""
    language = page_language(request, user)
    values.update(
        request=request,
        user=user,
        sync_problems=lambda: _sync_problems(request, user),
        csrf_token=token_for(request.session),
        path=request.url.path,
        lang=language,
    )
    with i18n.speaking(language):  # the response renders its body here, not later
        response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers["Content-Language"] = language
    response.headers.setdefault("Vary", "Accept-Language")
    return response


def _sync_problems(request: Request, user: User | None) -> list[Problem]:
    """The banner's problems for the signed-in user, asked only by pages that show the layout."""
    session = getattr(request.state, "page_session", None)
    if user is None or session is None:
        return []
    return sync_health.problems(session, account_of_user(session, user.id), is_admin=user.is_admin)


def see_other(url: str) -> RedirectResponse:
    """The redirect after a successful form POST (the browser then GETs the page)."""
    return RedirectResponse(url, status_code=303)
