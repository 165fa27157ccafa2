"""The embedded CalDAV server: Radicale mounted in-process at /dav/ (when
`settings.embedded_dav`), signing in calsync users with their calsync passwords. Calendar apps
(Thunderbird, Apple Calendar, DAVx5) can point at http://HOST:PORT/dav/; /.well-known/caldav
redirects there."""

from __future__ import annotations

import logging

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from calsync.providers.caldav import embedded
from calsync.web import accesslog
from calsync.web.context import AppContext
from calsync.web.dav_limit import DavPasswordLimit
from calsync.web.dav_writes import SyncOnWrite
from calsync.web.pages.login_limit import limiter_for

log = logging.getLogger("calsync.dav")


def install(app: FastAPI, context: AppContext) -> None:
    """Mounts Radicale at /dav when the embedded calendar is on."""
    settings = context.settings
    if not settings.embedded_dav:
        return
    radicale_app = embedded.make_app(settings.var_dir, context.sessions, settings.resolved_secret_key())
    context.extras["dav_app"] = radicale_app

    @app.api_route("/.well-known/caldav", methods=["GET", "PROPFIND", "HEAD"], include_in_schema=False)
    def well_known() -> RedirectResponse:
        return RedirectResponse(embedded.MOUNT + "/", status_code=301)

    limited = DavPasswordLimit(radicale_app, limiter_for(context), settings.resolved_secret_key())
    own = accesslog.OwnRequests()
    # A calendar app's write requests a sync of the calendar's owner (calsync.web.dav_writes).
    app.mount(embedded.MOUNT, SyncOnWrite(accesslog.MarkOwnRequests(  # type: ignore[arg-type]
        WSGIMiddleware(limited, workers=8), own, settings.resolved_secret_key()), context))

    def repoint() -> None:
        moved = embedded.repoint_embedded_accounts(
            context.sessions, context.box, settings.resolved_base_url(), settings.resolved_secret_key())
        if moved:
            log.info("moved %d built-in calendar connection(s) to %s", moved, settings.resolved_base_url())

    context.extras.setdefault("startup", []).append(repoint)
    # After Uvicorn configured its loggers: the engine's own requests leave no access line.
    context.extras["startup"].append(lambda: accesslog.attach(own))
    context.extras.setdefault("shutdown", []).append(lambda: accesslog.detach(own))
