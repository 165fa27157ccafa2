"""Builds the FastAPI app: API routers, pages, the embedded CalDAV server, error handling.

Each part registers itself through `PARTS`: a module with `install(app, context)`. Parts that a
setting turns off (the embedded DAV server, the background runner) check it themselves."""

from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync import __version__, logredact
from calsync.config import Settings, get_settings
from calsync.store.migrate import require_up_to_date
from calsync.web.context import AppContext
from calsync.web.errors import install_error_handlers
from calsync.web.headers import SecurityHeaders
from calsync.web.limits import BodySizeLimit

log = logging.getLogger("calsync.web")

PARTS = [
    "calsync.web.api.crm",
    "calsync.web.api.calendar_sync",
    "calsync.web.pages",
    "calsync.web.oauth",
    "calsync.web.webhooks",
    "calsync.web.api_docs",
    "calsync.web.dav",
    "calsync.jobs",
]


def create_app(settings: Settings | None = None, *, check_migrations: bool = True) -> FastAPI:
    logredact.install()  # before anything logs: the access log included
    settings = settings or get_settings()
    settings.secure_files()  # umask 077 and private modes, before the database or calendar is opened
    context = AppContext.build(settings)
    if check_migrations:
        require_up_to_date(context.engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in context.extras.get("startup", []):
            hook()
        yield
        for hook in reversed(context.extras.get("shutdown", [])):
            hook()
        context.engine.dispose()

    app = FastAPI(
        title="calsync",
        version=__version__,
        description="CRM activities and external calendars kept in step.",
        lifespan=lifespan,
        docs_url=None,  # served by calsync.web.api_docs from local files
        redoc_url=None,  # ReDoc loads only from a CDN
    )
    app.state.context = context
    install_error_handlers(app)
    for name in PARTS:
        module = importlib.import_module(name)
        module.install(app, context)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie="calsync_session",
        same_site="lax",
        https_only=settings.resolved_base_url().startswith("https"),
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, exempt_prefixes=("/dav",))
    app.add_middleware(SecurityHeaders)
    return app
