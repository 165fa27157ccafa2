"""A write to the built-in calendar by a calendar app asks for a sync of the calendar's owner at
once (debounced like a CRM change), so a change made on the phone reaches the CRM in seconds
instead of waiting for the regular schedule.

Writes that count: PUT, DELETE, MOVE and PROPPATCH that the server accepted (2xx). The request
is made before the response leaves, so a client that saw its write succeed knows a sync is
queued. The sync engine's own writes (signed in with the app password only it holds, see
`accesslog.is_own_request`) never ask for one: a run that pushes CRM changes into the built-in
calendar would otherwise schedule a run of its own after every run, forever."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from calsync.providers.caldav.embedded import MOUNT
from calsync.store.tables import SyncAccount, User
from calsync.web.accesslog import is_own_request
from calsync.web.context import AppContext

log = logging.getLogger("calsync.dav")
WRITES = frozenset({"PUT", "DELETE", "MOVE", "PROPPATCH"})


def collection_of(path: str, root_path: str = "") -> tuple[str, str] | None:
    """(owner e-mail, calendar name) of a path under the mount, or None above a calendar."""
    rel = path[len(root_path):] if root_path and path.startswith(root_path) else path
    if rel.startswith(MOUNT + "/"):
        rel = rel[len(MOUNT):]
    parts = [unquote(p) for p in rel.split("/") if p]
    if len(parts) < 2:
        return None
    return parts[0].lower(), parts[1]


def account_for(context: AppContext, email: str, calendar: str) -> int | None:
    """The enabled sync account of `email` that syncs this built-in calendar, if any."""
    with context.sessions() as session:
        row = session.execute(
            select(SyncAccount.id, SyncAccount.calendar_id).join(User, User.id == SyncAccount.user_id)
            .where(func.lower(User.email) == email, SyncAccount.enabled.is_(True), SyncAccount.provider == "caldav")
        ).first()
    if row is None or not row.calendar_id:
        return None
    return row.id if unquote(row.calendar_id).rstrip("/").endswith(f"{MOUNT}/{email}/{calendar}") else None


class SyncOnWrite:
    """ASGI wrapper of the mounted calendar: a calendar app's accepted write requests a sync."""

    def __init__(self, app: Any, context: AppContext) -> None:
        self.app, self.context = app, context
        self.secret_key = context.settings.resolved_secret_key()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") not in WRITES \
                or is_own_request(scope.get("headers") or [], self.secret_key):
            await self.app(scope, receive, send)
            return
        target = collection_of(scope.get("path", ""), scope.get("root_path", ""))

        async def send_then_sync(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and target and 200 <= message.get("status", 500) < 300:
                await run_in_threadpool(self._request, *target)
            await send(message)

        await self.app(scope, receive, send_then_sync)

    def _request(self, email: str, calendar: str) -> None:
        runner = self.context.extras.get("runner")
        if runner is None:
            return
        try:
            account_id = account_for(self.context, email, calendar)
        except Exception:  # a failed lookup must never fail the calendar app's write
            log.exception("could not look up the sync account of %s", email)
            return
        if account_id is not None:
            runner.request_sync(account_id, "calendar", delay=self.context.settings.sync_debounce_seconds)
