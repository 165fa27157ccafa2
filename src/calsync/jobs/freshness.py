"""How soon a change made in the user's calendar reaches the CRM, for the settings page: the
built-in calendar asks for a sync on every write and Google / Microsoft push (when they can reach
this app), so "seconds"; an external CalDAV server is polled every CALSYNC_CALDAV_POLL_SECONDS;
anything else waits for the regular schedule."""

from __future__ import annotations

import math
from typing import Any

from calsync.jobs.polling import is_polled
from calsync.jobs.push import Channels
from calsync.store.tables import SyncAccount
from calsync.sync.credentials import stored
from calsync.web.context import AppContext


def _minutes(seconds: float) -> dict[str, Any]:
    minutes = max(1, math.ceil(seconds / 60))
    return {"within": "minute" if minutes == 1 else "minutes", "minutes": minutes}


def changes_arrive(context: AppContext, account: SyncAccount) -> dict[str, Any] | None:
    """{"within": "seconds" | "minute" | "minutes", "minutes": n}; None when no runner syncs."""
    settings = context.settings
    if settings.runner != "embedded":
        return None
    if account.provider == "caldav":
        if is_polled(context.box, account):
            return _minutes(settings.caldav_poll_seconds)
        try:
            builtin = bool(stored(context.box, account).get("embedded")) and settings.embedded_dav
        except Exception:
            builtin = False
        return {"within": "seconds", "minutes": 0} if builtin else _minutes(settings.sync_interval_seconds)
    try:
        pushes = Channels(context).reachable(account)
    except Exception:
        pushes = False
    return {"within": "seconds", "minutes": 0} if pushes else _minutes(settings.sync_interval_seconds)
