"""events.list and events.instances: filters, recurring expansion, paging, sync tokens.

A listing is computed once, on its first page, and kept with its page token, so later pages
neither skip nor repeat items when the calendar changes meanwhile; the sync token on the last
page points at the calendar's position when the first page was computed.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from calsync.emulators.google import recurrence
from calsync.emulators.google.config import EmulatorConfig
from calsync.emulators.google.errors import ApiError, bad_request
from calsync.emulators.google.render import derived_etag, render
from calsync.emulators.google.store import Calendar, Record, Store
from calsync.emulators.google.times import format_instant, parse_query_instant, parse_when, zone
from calsync.emulators.google.validate import ENUMS

Query = dict[str, list[str]]
FORBIDDEN_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty",
                             "timeMin", "timeMax", "updatedMin")
MAX_RESULTS = 2500


@dataclass
class PageState:
    calendar_id: str
    signature: tuple[tuple[str, tuple[str, ...]], ...]
    items: list[dict[str, Any]]
    sync_seq: int | None


@dataclass
class Pager:
    """Issued page tokens, and the injected page sizes (short or empty pages) still to serve."""

    # token -> (listing, offset of the page it names); tokens can be reused, as Google's can
    # (a client retrying a page after a network error asks for the same page again).
    states: dict[str, tuple[PageState, int]] = field(default_factory=dict)
    sizes: deque[int] = field(default_factory=deque)


def one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def flag(query: Query, name: str, default: bool = False) -> bool:
    value = one(query, name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise bad_request(f"Invalid boolean value for {name}: {value!r}.", location=name)
    return value.lower() == "true"


def max_results(query: Query, default: int = 250, cap: int = MAX_RESULTS) -> int:
    value = one(query, "maxResults")
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"Invalid value for maxResults: {value!r}.", location="maxResults") from None
    if number < 1:
        raise bad_request("Invalid value for maxResults: it must be at least 1.", location="maxResults")
    return min(number, cap)


def _property_filters(query: Query, name: str) -> list[tuple[str, str]]:
    out = []
    for raw in query.get(name, []):
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise bad_request(f"Invalid {name} {raw!r}: expected name=value.", location=name)
        out.append((key, value))
    return out


@dataclass
class Filters:
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    private: list[tuple[str, str]] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)
    q: str | None = None
    ical_uid: str | None = None
    event_types: list[str] = field(default_factory=list)

    def span_ok(self, start: datetime, end: datetime) -> bool:
        """timeMin is exclusive against the end, timeMax exclusive against the start."""
        return (self.time_min is None or end > self.time_min) and (self.time_max is None or start < self.time_max)

    def content_ok(self, res: dict[str, Any]) -> bool:
        props = res.get("extendedProperties") or {}
        # Repeated constraints of one kind are OR'ed (the extended-properties guide), kinds AND'ed.
        if self.private and not any((props.get("private") or {}).get(k) == v for k, v in self.private):
            return False
        if self.shared and not any((props.get("shared") or {}).get(k) == v for k, v in self.shared):
            return False
        if self.ical_uid is not None and res.get("iCalUID") != self.ical_uid:
            return False
        if self.event_types and res.get("eventType", "default") not in self.event_types:
            return False
        if self.q:
            needle = self.q.lower()
            hay = [res.get("summary", ""), res.get("description", ""), res.get("location", "")]
            for a in res.get("attendees") or []:
                hay += [a.get("email", ""), a.get("displayName", "")]
            if not any(needle in str(h).lower() for h in hay):
                return False
        return True


def _filters(query: Query, store: Store, config: EmulatorConfig, *, min_inclusive: bool = False) -> Filters:
    f = Filters()
    if (v := one(query, "timeMin")) is not None:
        f.time_min = parse_query_instant(v, "timeMin")
        if min_inclusive:
            f.time_min -= timedelta(microseconds=1)
    if (v := one(query, "timeMax")) is not None:
        f.time_max = parse_query_instant(v, "timeMax")
    if f.time_min and f.time_max and f.time_max <= f.time_min + (timedelta(microseconds=1) if min_inclusive else timedelta()):
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar",
                       location="timeMax", location_type="parameter")
    if (v := one(query, "updatedMin")) is not None:
        f.updated_min = parse_query_instant(v, "updatedMin")
        if f.updated_min < store.clock.now() - timedelta(days=config.updated_min_window_days):
            raise ApiError(410, "updatedMinTooLongAgo", "The requested minimum modification time lies too far in "
                           "the past.", domain="calendar", location="updatedMin", location_type="parameter")
    f.private = _property_filters(query, "privateExtendedProperty")
    f.shared = _property_filters(query, "sharedExtendedProperty")
    f.q = one(query, "q")
    f.ical_uid = one(query, "iCalUID")
    for value in query.get("eventTypes", []):
        if value not in ENUMS["eventType"]:
            raise bad_request(f"Invalid value for eventTypes: {value!r}.", location="eventTypes")
        f.event_types.append(value)
    if (v := one(query, "timeZone")) is not None:
        zone(v, "timeZone")
    return f


class Lister:
    """Builds the items of one listing of one calendar."""

    def __init__(self, store: Store, config: EmulatorConfig, cal: Calendar) -> None:
        self.store, self.config, self.cal = store, config, cal
        self.horizon = store.clock.now() + timedelta(days=config.expansion_horizon_days)

    def span(self, res: dict[str, Any]) -> tuple[datetime, datetime]:
        tz = self.cal.time_zone
        return (parse_when(res["start"], "start").instant(tz), parse_when(res["end"], "end").instant(tz))

    def instances(self, master: Record, until: datetime | None = None) -> list[tuple[dict[str, Any], str]]:
        """Generated (unmoved, unexceptioned) instances of a master as (resource, etag)."""
        limit = min(until, self.horizon) if until else self.horizon
        out = []
        for when in recurrence.occurrences(master.resource, limit):
            res = recurrence.generated_instance(master.resource, when)
            if res["id"] in self.cal.events:
                continue   # an exception (moved, edited or cancelled) stands in for it
            out.append((res, derived_etag(master.etag, res["id"])))
        return out

    def master_overlaps(self, master: Record, f: Filters) -> bool:
        for res, _ in self.instances(master, f.time_max):
            if f.span_ok(*self.span(res)):
                return True
        return False

    def master_of(self, rec: Record) -> Record | None:
        return self.cal.events.get(rec.resource.get("recurringEventId", ""))

    def full(self, f: Filters, single: bool, show_deleted: bool) -> list[tuple[Record, dict[str, Any], str, bool]]:
        """(record, resource, etag, minimal) for a listing without sync token."""
        include_cancelled = show_deleted or f.updated_min is not None
        out = []
        for rec in self.cal.events.values():
            res = rec.resource
            if f.updated_min is not None and rec.updated < f.updated_min:
                continue
            is_master, master = "recurrence" in res, self.master_of(rec)
            if rec.cancelled:
                # The discovery text's showDeleted x singleEvents matrix.
                if single and is_master:
                    continue
                live_exception = master is not None and not master.cancelled
                if not include_cancelled and not (live_exception and not single):
                    continue
            if not f.content_ok(res):
                continue
            if single and is_master:
                for gen, tag in self.instances(rec, f.time_max):
                    if f.span_ok(*self.span(gen)):
                        out.append((rec, gen, tag, False))
                continue
            if is_master and not self.master_overlaps(rec, f) and (f.time_min or f.time_max):
                continue
            if not is_master and (f.time_min or f.time_max) and not f.span_ok(*self.span(res)):
                continue
            minimal = rec.cancelled and f.updated_min is not None and not show_deleted
            out.append((rec, res, rec.etag, minimal))
        return out

    def changes(self, since: int, single: bool, show_deleted: bool, f: Filters) -> list[tuple[Record, dict[str, Any], str, bool]]:
        """Everything changed after sequence position `since`, tombstones included."""
        out = []
        for rec in self.cal.events.values():
            if rec.seq <= since or not f.content_ok(rec.resource):
                continue
            if single and "recurrence" in rec.resource:
                for gen, tag in self.instances(rec):
                    if rec.cancelled:
                        gen = {**gen, "status": "cancelled"}
                    out.append((rec, gen, tag, rec.cancelled and not show_deleted))
                continue
            out.append((rec, rec.resource, rec.etag, rec.cancelled and not show_deleted))
        return out


def _signature(query: Query) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((k, tuple(v)) for k, v in query.items() if k not in ("pageToken", "maxResults")))


def _sort(rows: list[tuple[Record, dict[str, Any], str, bool]], lister: Lister, order: str | None,
          single: bool) -> None:
    if order == "updated":
        rows.sort(key=lambda r: (r[0].updated, r[1]["id"]))
    elif single or order == "startTime":
        rows.sort(key=lambda r: (lister.span(r[1])[0] if "start" in r[1] else datetime.max.replace(tzinfo=timezone.utc),
                                 r[1]["id"]))


def _page(store: Store, pager: Pager, state: PageState, offset: int, limit: int) -> dict[str, Any]:
    injected = bool(pager.sizes)
    size = min(pager.sizes.popleft(), limit) if injected else limit
    items = state.items[offset:offset + size]
    offset += len(items)
    out: dict[str, Any] = {"items": items}
    if offset < len(state.items) or (injected and size == 0):
        new_token = secrets.token_urlsafe(18)
        pager.states[new_token] = (state, offset)
        out["nextPageToken"] = new_token
    elif state.sync_seq is not None:
        out["nextSyncToken"] = store.mint_sync_token(state.calendar_id, state.sync_seq)
    return out


def _resume(pager: Pager, query: Query, cal: Calendar) -> tuple[PageState | None, int]:
    token = one(query, "pageToken")
    if token is None:
        return None, 0
    found = pager.states.get(token)
    if found is None or found[0].calendar_id != cal.id or found[0].signature != _signature(query):
        raise bad_request("Invalid pageToken: it is unknown or belongs to a listing with other parameters.",
                          location="pageToken")
    return found


def envelope(cal: Calendar, store: Store, page: dict[str, Any]) -> dict[str, Any]:
    latest = max((r.updated for r in cal.events.values()), default=store.clock.now())
    return {"kind": "calendar#events", "etag": f'"p{cal.seq}"', "summary": cal.summary,
            "description": "", "updated": format_instant(latest), "timeZone": cal.time_zone,
            "accessRole": cal.access_role, "defaultReminders": [], **page}


def list_events(store: Store, config: EmulatorConfig, pager: Pager, cal: Calendar, query: Query) -> dict[str, Any]:
    limit = max_results(query)
    state, offset = _resume(pager, query, cal)
    if state is None:
        single = flag(query, "singleEvents")
        sync_token = one(query, "syncToken")
        order = one(query, "orderBy")
        if order is not None and order not in ("startTime", "updated"):
            raise bad_request(f"Invalid value for orderBy: {order!r} (startTime or updated).", location="orderBy")
        if sync_token is not None:
            bad = [name for name in FORBIDDEN_WITH_SYNC_TOKEN if name in query]
            if bad or ("showDeleted" in query and not flag(query, "showDeleted")):
                raise bad_request("Sync token cannot be used with other request restrictions.",
                                  location=(bad[0] if bad else "showDeleted"))
        if order == "startTime" and not single:
            raise bad_request("The requested ordering is not available for the particular query.", location="orderBy")
        show_deleted = flag(query, "showDeleted")
        f = _filters(query, store, config)
        lister = Lister(store, config, cal)
        if sync_token is not None:
            since = store.resolve_sync_token(sync_token, cal.id)
            rows = lister.changes(since, single, show_deleted, f)
        else:
            rows = lister.full(f, single, show_deleted)
        _sort(rows, lister, order, single)
        items = [render(cal, rec, res, etag=tag, minimal=minimal) for rec, res, tag, minimal in rows]
        state = PageState(cal.id, _signature(query), items, cal.seq)
    return envelope(cal, store, _page(store, pager, state, offset, limit))


def list_instances(store: Store, config: EmulatorConfig, pager: Pager, cal: Calendar, master: Record,
                   query: Query) -> dict[str, Any]:
    limit = max_results(query)
    state, offset = _resume(pager, query, cal)
    if state is None:
        if "recurrence" not in master.resource:
            raise bad_request("The event is not a recurring event.", location="eventId", location_type="path")
        show_deleted = flag(query, "showDeleted")
        f = _filters(query, store, config, min_inclusive=True)
        original = one(query, "originalStart")
        lister = Lister(store, config, cal)
        rows: list[tuple[Record, dict[str, Any], str, bool]] = [
            (master, res, tag, False) for res, tag in lister.instances(master, f.time_max)]
        rows += [(rec, rec.resource, rec.etag, False) for rec in cal.events.values()
                 if rec.resource.get("recurringEventId") == master.id and (show_deleted or not rec.cancelled)]
        rows = [r for r in rows if f.span_ok(*lister.span(r[1]))]
        if original is not None:
            wanted = parse_query_instant(original, "originalStart")
            rows = [r for r in rows if parse_when(r[1]["originalStartTime"], "originalStartTime").instant(cal.time_zone) == wanted]
        _sort(rows, lister, "startTime", True)
        items = [render(cal, rec, res, etag=tag) for rec, res, tag, _ in rows]
        state = PageState(cal.id, _signature(query), items, None)
    return envelope(cal, store, _page(store, pager, state, offset, limit))


