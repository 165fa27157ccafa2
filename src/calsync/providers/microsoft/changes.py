"""Listing an Outlook calendar: delta over `calendarView` with a window.

A full listing starts a delta round (`/me/calendars/{id}/calendarView/delta` with the window)
and follows `@odata.nextLink` until a page carries `@odata.deltaLink`: that link is the cursor.
Incremental listings follow the stored delta link the same way. A round lists singles,
occurrences and exceptions (no series masters); an incremental one names what changed since.

`@removed` items carry only an id, and Graph says `deleted` for items that left the window too
(and for out-of-window changes), so each removed id is looked up in the calendar: still there →
`left_window` (or, for an occurrence, its series is read again); not there → `deleted` (the
lookups go 20 to a `$batch` request). An id
Graph gives no series for is matched to its series through the occurrence ids the cursor keeps.

Occurrences are keyed (series id, original start). Any change to a series (an occurrence
edited into an exception, moved, cancelled, or the series deleted) reads the series again:
all its in-window occurrences (`complete_series`, so a cancelled one is removed), or one
tombstone when the series is gone; an occurrence moved out of the window is `left_window`.

410 (`SyncStateNotFound` in any case, or `resyncRequired`) is CursorExpired: the engine lists
in full and re-matches by key and our id. The delta window is fixed when a round starts; a
cursor whose window ends less than REBASELINE before the engine's does is expired on purpose, so
the window is re-baselined before it runs short (a full listing: no duplicates, no deletions)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from calsync.providers.microsoft import wire
from calsync.providers.microsoft.http import PREFER, Call, GraphHttp, error_code, message, path
from calsync.sync.model import ChangeSet, Event, EventKey, Removal
from calsync.sync.provider import CursorExpired, EventNotFound, ProviderError, Window

REBASELINE = dt.timedelta(days=30)
EXPAND = f"singleValueExtendedProperties($filter=id eq '{wire.PROPERTY_ID}')"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """What travels in a cursor or page token: the delta or next link, the round's window end,
    and which series each occurrence id belongs to (for `@removed` ids)."""

    def __init__(self, link: str, end: str, series: dict[str, str] | None = None) -> None:
        self.link, self.end, self.series = link, end, dict(series or {})

    def dump(self) -> str:
        masters = sorted(set(self.series.values()))
        index = {m: n for n, m in enumerate(masters)}
        return json.dumps({"link": self.link, "end": self.end, "s": masters,
                           "o": {occ: index[m] for occ, m in self.series.items()}}, separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> "State":
        try:
            data = json.loads(text)
            masters = data.get("s") or []
            return cls(str(data["link"]), str(data["end"]), {o: masters[i] for o, i in (data.get("o") or {}).items()})
        except (ValueError, KeyError, TypeError, IndexError):
            raise CursorExpired("the stored Microsoft sync cursor is not readable: a full listing follows") from None


class Lister:
    """Delta, reads and the extended-property lookup for one mailbox."""

    def __init__(self, http: GraphHttp, *, page_size: int = 100) -> None:
        self.http = http
        self.page_size = page_size

    def _expect(self, response: Any, what: str) -> dict[str, Any]:
        if response.status_code == 200:
            return dict(response.json())
        if response.status_code == 404:
            raise EventNotFound(f"Outlook has no {what}")
        raise ProviderError(f"Microsoft Graph refused to list {what} (HTTP {response.status_code}): {message(response)}")

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None) -> ChangeSet:
        full = cursor is None
        if page is not None:
            state = State.load(page)
        elif cursor is not None:
            state = State.load(cursor)
            if dt.datetime.fromisoformat(state.end.replace("Z", "+00:00")) < window.end - REBASELINE:
                raise CursorExpired("the delta window runs short: it is baselined again with a full listing")
        else:
            query = f"startDateTime={iso(window.start)}&endDateTime={iso(window.end)}"
            state = State(path("me", "calendars", calendar_id, "calendarView", "delta") + "?" + query, iso(window.end))
        if page is not None and cursor is None:
            full = True
        response = self.http.send("GET", state.link, headers={"Prefer": f"{PREFER}, odata.maxpagesize={self.page_size}"})
        if response.status_code == 410 or error_code(response).lower() in ("syncstatenotfound", "resyncrequired"):
            raise CursorExpired("Microsoft Graph asked for a full sync (the delta token expired)")
        body = self._expect(response, f"changes of the calendar {calendar_id}")
        next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        result = ChangeSet(full=full)
        items: dict[str, dict[str, Any]] = {}
        for item in body.get("value") or []:
            items[str(item.get("id"))] = item  # a replayed item counts once (the last copy)
        if full:
            self._read_full(calendar_id, items.values(), state, result)
        else:
            self._read_changes(calendar_id, items.values(), state, window, result)
        if next_link:
            result.next_page = State(str(next_link), state.end, state.series).dump()
        else:
            result.cursor = State(str(delta_link or state.link), state.end, state.series).dump()
        return result

    def _read_full(self, calendar_id: str, items: Any, state: State, result: ChangeSet) -> None:
        for item in items:
            if "@removed" in item or item.get("type") == "seriesMaster":
                continue
            event = wire.to_event(calendar_id, item)
            result.events.append(event)
            if event.series_id:
                state.series[str(item["id"])] = event.series_id
                if event.series_id not in result.complete_series:
                    result.complete_series.append(event.series_id)

    def _read_changes(self, calendar_id: str, items: Any, state: State, window: Window, result: ChangeSet) -> None:
        touched: list[str] = []
        moved: list[Event] = []
        removed: list[str] = []
        for item in items:
            if "@removed" in item:
                removed.append(str(item["id"]))
            elif wire.is_instance(item):
                event = wire.to_event(calendar_id, item)
                state.series[str(item["id"])] = str(event.series_id)
                moved.append(event)
                if event.series_id not in touched:
                    touched.append(str(event.series_id))
            elif item.get("type") != "seriesMaster":
                result.events.append(wire.to_event(calendar_id, item))
        found = self.get_many(calendar_id, removed)
        for item_id in removed:
            current = found[item_id]
            series = str(current["seriesMasterId"]) if current is not None and wire.is_instance(current) \
                else state.series.get(item_id)
            if current is not None and wire.is_instance(current):
                moved.append(wire.to_event(calendar_id, current))  # still there: maybe out of the window
            if series:
                if series not in touched:
                    touched.append(series)
            elif current is not None:
                result.deleted.append(Removal(EventKey(calendar_id, item_id, ""), "left_window"))
            else:
                result.deleted.append(Removal(EventKey(calendar_id, item_id, ""), "deleted"))
        for series in touched:
            self._reread_series(calendar_id, series, window, state, result)
        listed = {e.key for e in result.events}
        reread = set(result.complete_series)
        result.deleted += [Removal(e.key, "left_window") for e in moved
                           if e.series_id in reread and e.key not in listed]

    def _reread_series(self, calendar_id: str, series: str, window: Window, state: State, result: ChangeSet) -> None:
        """All in-window occurrences of a series, or one tombstone when the series is gone."""
        for occ in [o for o, m in state.series.items() if m == series]:
            del state.series[occ]
        if self.get(calendar_id, series) is None:
            result.deleted.append(Removal(EventKey(calendar_id, series, "")))
            return
        for resource in self.instances(series, window):
            state.series[str(resource["id"])] = series
            result.events.append(wire.to_event(calendar_id, resource))
        result.complete_series.append(series)

    def get(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """The event as Outlook holds it in this calendar (with our property), or None when gone."""
        response = self.http.send("GET", path("me", "calendars", calendar_id, "events", event_id),
                                  params={"$expand": EXPAND})
        if response.status_code in (404, 410):
            return None
        return self._expect(response, f"event {event_id}")

    def get_many(self, calendar_id: str, event_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Several events at once (`$batch`, 20 GETs a request); a part that failed is read alone."""
        from calsync.providers.microsoft.batch import MAX_REQUESTS, send_batch  # batch builds on writes on this

        found: dict[str, dict[str, Any] | None] = {}
        ids = list(dict.fromkeys(event_ids))
        if len(ids) < 2:
            return {i: self.get(calendar_id, i) for i in ids}
        for start in range(0, len(ids), MAX_REQUESTS):
            chunk = ids[start:start + MAX_REQUESTS]
            calls = [Call("GET", path("me", "calendars", calendar_id, "events", i), {"$expand": EXPAND}) for i in chunk]
            for event_id, answer in zip(chunk, send_batch(self.http, calls)):
                if answer is not None and answer.status == 200 and isinstance(answer.body, dict):
                    found[event_id] = answer.body
                elif answer is not None and answer.status in (404, 410):
                    found[event_id] = None
                else:
                    found[event_id] = self.get(calendar_id, event_id)
        return found

    def instances(self, series: str, window: Window) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = path("me", "events", series, "instances")
        params: dict[str, Any] | None = {"startDateTime": iso(window.start), "endDateTime": iso(window.end), "$top": 1000}
        while url:
            response = self.http.send("GET", url, params=params)
            if response.status_code in (404, 410):
                return out
            body = self._expect(response, f"occurrences of {series}")
            out += [dict(item) for item in body.get("value") or [] if not item.get("isCancelled")]
            url, params = body.get("@odata.nextLink"), None
        return out

    def find(self, calendar_id: str, activity_uuid: str) -> dict[str, Any] | None:
        """The event carrying our id in its extended property (`$filter`), or None."""
        flt = (f"singleValueExtendedProperties/Any(ep: ep/id eq '{wire.PROPERTY_ID}' and "
               f"ep/value eq '{activity_uuid.replace(chr(39), chr(39) * 2)}')")
        response = self.http.send("GET", path("me", "calendars", calendar_id, "events"),
                                  params={"$filter": flt, "$expand": EXPAND, "$top": 10})
        body = self._expect(response, f"events of the calendar {calendar_id}")
        for item in body.get("value") or []:
            if not wire.is_instance(item):
                return dict(item)
        return None
