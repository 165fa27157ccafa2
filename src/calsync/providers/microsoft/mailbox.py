"""The part of a Microsoft 365 connection that connecting and push need: the mailbox's calendars
and its change-notification subscriptions (push.py), over Graph (GraphHttp: a refreshing bearer
token, retries). The full provider (delta sync, writes) extends this class."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from calsync.providers.microsoft import push
from calsync.providers.microsoft.http import GraphHttp
from calsync.sync.model import CalendarInfo
from calsync.sync.provider import ProviderError

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Mailbox:
    """Calendars and subscriptions of one mailbox."""

    name = "microsoft"

    def __init__(self, http: GraphHttp, clock: Clock = _utcnow) -> None:
        self.http = http
        self.clock = clock

    def me(self) -> dict[str, Any]:
        response = self.http.send("GET", "/v1.0/me")
        if response.status_code != 200:
            raise ProviderError(f"Microsoft Graph refused to name the signed-in user (HTTP {response.status_code})")
        return dict(response.json())

    def list_calendars(self) -> list[CalendarInfo]:
        response = self.http.send("GET", "/v1.0/me/calendars")
        if response.status_code != 200:
            raise ProviderError(f"Microsoft Graph refused to list calendars (HTTP {response.status_code})")
        return [CalendarInfo(c["id"], c.get("name") or c["id"], writable=bool(c.get("canEdit", True)),
                             primary=bool(c.get("isDefaultCalendar")), color=c.get("hexColor") or None)
                for c in response.json().get("value", [])]

    # push (jobs/push.py drives these) -------------------------------------------------------------
    def watch(self, calendar_id: str, address: str, token: str) -> dict[str, Any]:
        return push.subscribe(self.http, calendar_id, address, token[:128], self.clock())

    def unwatch(self, channel: dict[str, Any]) -> None:
        push.delete(self.http, channel)

    def renew_watch(self, channel: dict[str, Any]) -> dict[str, Any]:
        return push.renew(self.http, channel, self.clock())

    def reauthorize_watch(self, channel: dict[str, Any]) -> None:
        push.reauthorize(self.http, channel)

    def close(self) -> None:
        self.http.close()
