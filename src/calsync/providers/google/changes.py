"""Listing a Google calendar: a full listing of the window, then incremental with sync tokens.

Full: `events.list` with `singleEvents=true` and the window as `timeMin`/`timeMax`; recurring
series arrive as their instances. The `nextSyncToken` of the last page is the cursor.
Incremental: `syncToken` (with `singleEvents=true` again, and no time bounds: Google refuses
them with a token). Both page with `pageToken`, which is the neutral `page`.

An incremental page names the series it touched (an instance moved, edited or cancelled, or
the series itself changed); each such series is read again whole, so the engine sees all its
in-window occurrences (`complete_series`), or one tombstone when the series itself was deleted;
an occurrence the page names that was moved out of the window is a removal with reason
`left_window` (it still exists: its activity stays). Cancelled items are reason `deleted`.
A 410 from a sync token is CursorExpired (the engine then lists in full, matching by our ids)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.providers.google import wire
from calsync.providers.google.http import GoogleHttp, message, path
from calsync.sync.model import ChangeSet, Event, EventKey, Removal
from calsync.sync.provider import CursorExpired, EventNotFound, ProviderError, Window


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class Lister:
    """events.list / events.instances / events.get for one account."""

    def __init__(self, http: GoogleHttp, *, page_size: int = 2500) -> None:
        self.http = http
        self.page_size = page_size
        self.zones: dict[str, str] = {}  # calendar id -> its time zone (for events without one)

    def _expect(self, response: Any, what: str) -> dict[str, Any]:
        if response.status_code == 200:
            return dict(response.json())
        if response.status_code == 404:
            raise EventNotFound(f"Google Calendar has no {what}")
        raise ProviderError(f"Google Calendar refused to list {what} (HTTP {response.status_code}): {message(response)}")

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None) -> ChangeSet:
        params: dict[str, Any] = {"singleEvents": "true", "maxResults": self.page_size}
        time_min, time_max = rfc3339(window.start), rfc3339(window.end)
        if page is not None and cursor is None:
            # Later pages repeat the first page's query exactly (Google refuses a page token with
            # other parameters), so the full listing's window travels inside the neutral page.
            time_min, time_max, page = page.split(" ", 2)
        if cursor is None:
            params.update(timeMin=time_min, timeMax=time_max)
        else:
            params["syncToken"] = cursor
        if page is not None:
            params["pageToken"] = page
        response = self.http.send("GET", path("calendars", calendar_id, "events"), params=params)
        if response.status_code == 410:
            raise CursorExpired("Google asked for a full sync (the sync token expired)")
        body = self._expect(response, f"events of the calendar {calendar_id}")
        zone = body.get("timeZone")
        if zone:
            self.zones[calendar_id] = str(zone)
        next_page = body.get("nextPageToken")
        if next_page and cursor is None:
            next_page = f"{time_min} {time_max} {next_page}"
        result = ChangeSet(full=cursor is None, next_page=next_page,
                           cursor=None if next_page else body.get("nextSyncToken"))
        touched: list[str] = []
        moved: list[Event] = []  # live instances named by an incremental page
        for item in body.get("items") or []:
            if wire.is_instance(item):
                if cursor is None:
                    if item.get("status") != "cancelled":
                        result.events.append(wire.to_event(calendar_id, item, zone))
                    series = item["recurringEventId"]
                    if series not in result.complete_series:
                        result.complete_series.append(series)
                else:
                    if item["recurringEventId"] not in touched:
                        touched.append(item["recurringEventId"])
                    if item.get("status") != "cancelled":
                        moved.append(wire.to_event(calendar_id, item, zone))
            elif item.get("status") == "cancelled":
                if cursor is not None:
                    result.deleted.append(Removal(EventKey(calendar_id, item["id"], "")))
            else:
                result.events.append(wire.to_event(calendar_id, item, zone))
        for series in touched:
            self._reread_series(calendar_id, series, window, result)
        # an occurrence moved beyond the window is not among the series' in-window instances:
        # it still exists, so it is reported as having left the window, never as deleted
        listed = {e.key for e in result.events}
        reread = set(result.complete_series)
        result.deleted += [Removal(e.key, "left_window") for e in moved
                           if e.series_id in reread and e.key not in listed]
        return result

    def _reread_series(self, calendar_id: str, series: str, window: Window, result: ChangeSet) -> None:
        """All in-window instances of a series, or one tombstone when the series is gone."""
        master = self.get(calendar_id, series)
        if master is None or master.get("status") == "cancelled":
            result.deleted.append(Removal(EventKey(calendar_id, series, "")))
            return
        result.events.extend(self.instances(calendar_id, series, window))
        result.complete_series.append(series)

    def get(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """The event as Google holds it (cancelled ones included), or None when unknown."""
        response = self.http.send("GET", path("calendars", calendar_id, "events", event_id))
        if response.status_code in (404, 410):
            return None
        return self._expect(response, f"event {event_id}")

    def instances(self, calendar_id: str, series: str, window: Window) -> list[Event]:
        zone = self.zones.get(calendar_id)
        out: list[Event] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"timeMin": rfc3339(window.start), "timeMax": rfc3339(window.end),
                                      "maxResults": 2500}
            if page:
                params["pageToken"] = page
            response = self.http.send("GET", path("calendars", calendar_id, "events", series, "instances"),
                                      params=params)
            if response.status_code in (404, 410):
                return out
            body = self._expect(response, f"occurrences of {series}")
            out += [wire.to_event(calendar_id, item, zone) for item in body.get("items") or []
                    if item.get("status") != "cancelled"]
            page = body.get("nextPageToken")
            if not page:
                return out

    def cancelled_exceptions(self, calendar_id: str, series: str, window: Window) -> list[dict[str, Any]]:
        """The cancelled occurrences of a series in the window (`events.instances` with
        `showDeleted`), as Google holds them (id, etag, `updated`)."""
        out: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"timeMin": rfc3339(window.start), "timeMax": rfc3339(window.end),
                                      "showDeleted": "true", "maxResults": 2500, **({"pageToken": page} if page else {})}
            response = self.http.send("GET", path("calendars", calendar_id, "events", series, "instances"), params=params)
            body = self._expect(response, f"occurrences of {series}")
            out += [dict(item) for item in body.get("items") or [] if item.get("status") == "cancelled"]
            page = body.get("nextPageToken")
            if not page:
                return out

    def find(self, calendar_id: str, activity_uuid: str) -> dict[str, Any] | None:
        """The live event carrying our id (one `privateExtendedProperty` constraint: Google's
        documents disagree on how several combine)."""
        params = {"privateExtendedProperty": f"{wire.ACTIVITY_KEY}={activity_uuid}", "maxResults": 10}
        response = self.http.send("GET", path("calendars", calendar_id, "events"), params=params)
        body = self._expect(response, f"events of the calendar {calendar_id}")
        for item in body.get("items") or []:
            if item.get("status") != "cancelled" and not wire.is_instance(item):
                return dict(item)
        return None
