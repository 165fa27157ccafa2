"""The HTML pages of the CRM: sign-in, calendar, list, editor, calendar-sync settings, admin.

Server-rendered (Jinja2 + htmx); the calendar view and the sync settings talk to the REST API
with the session cookie and the CSRF token. Static files (our CSS/JS and the vendored
FullCalendar and htmx bundles with their licences) are served from /static."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from calsync.web.context import AppContext
from calsync.web.pages import (activities, admin_types, admin_users, auth, calendar, editor, items, language,
                               set_password, sync_settings, user_settings)
from calsync.web.pages.csrf import CsrfMiddleware
from calsync.web.pages.login_limit import limiter_for
from calsync.web.pages.rendering import WEB_DIR, SignInRequired, login_redirect


def install(app: FastAPI, context: AppContext) -> None:
    """Adds the pages, /static, the CSRF check and the failed-login limit to the app."""
    limiter_for(context)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    for module in (auth, calendar, activities, editor, items, sync_settings, admin_types, language, user_settings,
                   admin_users, set_password):
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, login_redirect)  # type: ignore[arg-type]
    # Added before the app factory adds SessionMiddleware, so it runs inside it and sees the session.
    app.add_middleware(CsrfMiddleware, exempt_prefixes=("/dav",))
