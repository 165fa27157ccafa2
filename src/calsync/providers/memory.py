"""An in-memory calendar provider that behaves like the real ones, for tests and the demo.

Usage::

    server = MemoryCalendarServer()            # shared state: accounts, calendars, events, faults
    provider = server.open("alice")            # a CalendarProvider for account "alice"
    provider = MemoryProvider()                # same, on a fresh server, account "default"

Behaviour copied from real providers: every write gives a new etag and `updated`; sync tokens
(cursors) come only on the last page and expire (`server.expire_cursors()`); a stale etag raises
PreconditionFailed (412); listings are paged (`server.page_size`); recurring series (daily or
weekly, with moved and cancelled occurrences) are expanded within the window; private and
confidential flags; creates use an id derived from our activity id, so a repeated create raises
AlreadyExists. Faults on demand: `server.fail(kind, times=1, method=None)` with kind "5xx",
"429", "timeout", "auth"; `server.revoke(account)` makes every call an auth error until
`server.grant(account)`. `server.requests` counts calls per method. `user_break()` stores an
object that cannot be read over an event: listings name it in `ChangeSet.skipped` until it is
written again (`server.unreadable()` lists them).

The `user_*` methods act as the person editing the calendar in another app (no preconditions).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
import uuid as uuid_mod
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from calsync.sync import registry
from calsync.sync.model import CalendarInfo, ChangeSet, Event, EventKey, Removal
from calsync.sync.provider import (
    AlreadyExists,
    AuthError,
    ConnectError,
    CursorExpired,
    EventNotFound,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    Window,
)

UTC = dt.timezone.utc
ID_PREFIX = "calsync-"
# what an update replaces (the fields the engine writes, mapping.to_event); the rest is kept
MAPPED = ("summary", "description", "location", "all_day", "start", "end", "timezone", "start_date", "end_date",
          "busy", "privacy", "attendees", "conference_url", "activity_uuid", "floating")


def event_id_for(activity_uuid: str) -> str:
    """The deterministic id of an event the CRM creates (what makes a repeated create safe)."""
    return ID_PREFIX + activity_uuid


@dataclass
class Series:
    """A recurring series: the first instance plus a simple rule and its exceptions."""

    base: Event
    freq: str = "weekly"  # "daily" or "weekly"
    count: int | None = None  # None: no end
    overrides: dict[str, Event] = field(default_factory=dict)  # recurrence id -> moved/edited instance
    cancelled: set[str] = field(default_factory=set)

    def instances(self, window: Window) -> list[Event]:
        step = dt.timedelta(days=1 if self.freq == "daily" else 7)
        out: list[Event] = []
        for n in itertools.count():
            if self.count is not None and n >= self.count:
                break
            start, end, sdate, edate = _shift(self.base, step * n)
            begin = start if start is not None else dt.datetime.combine(sdate, dt.time(), UTC) - dt.timedelta(hours=14)  # type: ignore[arg-type]
            if begin >= window.end:
                break
            rid = (start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if start else sdate.strftime("%Y%m%d"))  # type: ignore[union-attr]
            if rid in self.cancelled:
                continue
            instance = self.overrides.get(rid) or replace(
                self.base, start=start, end=end, start_date=sdate, end_date=edate, attendees=list(self.base.attendees)
            )
            instance = replace(instance, recurrence_id=rid, series_id=self.base.event_id, event_id=self.base.event_id,
                               raw=f"memory-series:{self.base.event_id}")
            if _instance_end(instance) > window.start:
                out.append(instance)
        return out


def _shift(event: Event, delta: dt.timedelta) -> tuple[Any, Any, Any, Any]:
    if event.all_day:
        return None, None, event.start_date + delta, event.end_date + delta  # type: ignore[operator]
    return event.start + delta, event.end + delta, None, None  # type: ignore[operator]


def _instance_end(event: Event) -> dt.datetime:
    if event.all_day:
        return dt.datetime.combine(event.end_date, dt.time(), UTC) + dt.timedelta(hours=12)  # type: ignore[arg-type]
    return event.end  # type: ignore[return-value]


@dataclass
class _Item:
    """One stored object (a single event or a series) with its etag and change sequence."""

    event_id: str
    etag: str
    seq: int
    single: Event | None = None
    series: Series | None = None
    deleted: bool = False
    unreadable: str | None = None  # why the stored object cannot be read (listed in ChangeSet.skipped)


@dataclass
class _Calendar:
    info: CalendarInfo
    items: dict[str, _Item] = field(default_factory=dict)
    epoch: int = 0  # cursors from an older epoch are expired


class MemoryCalendarServer:
    """Shared state of the in-memory provider: accounts -> calendars -> events."""

    def __init__(self, *, page_size: int = 50, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.page_size = page_size
        self.clock = clock or (lambda: dt.datetime.now(UTC))
        self.accounts: dict[str, dict[str, _Calendar]] = {}
        self.passwords: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.requests: Counter[str] = Counter()
        self._faults: list[dict[str, Any]] = []
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self.hook: Callable[[str, str], None] | None = None  # (method, "before"|"after") for crash tests
        # like Graph's calendarView delta: an incremental listing reports a single event moved
        # out of the window as removed (reason left_window) instead of listing it
        self.removes_outside_window = False

    # ------------------------------------------------------------- accounts, calendars, faults

    def open(self, account: str = "default") -> "MemoryProvider":
        self.ensure_account(account)
        return MemoryProvider(self, account)

    def ensure_account(self, account: str, password: str | None = None) -> None:
        with self._lock:
            if account not in self.accounts:
                self.accounts[account] = {}
                self.add_calendar(account, "primary", "Calendar", primary=True)
            if password is not None:
                self.passwords[account] = password

    def add_calendar(self, account: str, calendar_id: str, name: str, *, primary: bool = False, writable: bool = True) -> None:
        with self._lock:
            if account not in self.accounts:
                self.ensure_account(account)  # every account has its primary calendar
            self.accounts[account][calendar_id] = _Calendar(CalendarInfo(calendar_id, name, writable, primary))

    def fail(self, kind: str, times: int = 1, method: str | None = None, retry_after: float = 1.0) -> None:
        """The next `times` calls (of `method`, or any) fail with `kind`: 5xx, 429, timeout, auth."""
        self._faults.append(dict(kind=kind, times=times, method=method, retry_after=retry_after))

    def clear_faults(self) -> None:
        self._faults.clear()

    def revoke(self, account: str) -> None:
        self.revoked.add(account)

    def grant(self, account: str) -> None:
        self.revoked.discard(account)

    def expire_cursors(self, account: str | None = None) -> None:
        """Every cursor handed out so far becomes invalid (like a Google 410)."""
        with self._lock:
            for name, calendars in self.accounts.items():
                if account in (None, name):
                    for calendar in calendars.values():
                        calendar.epoch += 1

    def _enter(self, account: str, method: str) -> None:
        self.requests[method] += 1
        if self.hook:
            self.hook(method, "before")
        if account in self.revoked:
            raise AuthError("the calendar account's access was revoked: reconnect it")
        for fault in list(self._faults):
            if fault["method"] not in (None, method):
                continue
            fault["times"] -= 1
            if fault["times"] <= 0:
                self._faults.remove(fault)
            kind = fault["kind"]
            if kind == "429":
                raise RateLimited("the calendar provider asks us to slow down (429)", retry_after=fault["retry_after"])
            if kind == "timeout":
                raise ProviderError("the calendar provider did not answer in time")
            if kind == "auth":
                raise AuthError("the calendar account's access expired: reconnect it")
            raise ProviderError("the calendar provider had an internal error (503)")

    def _after(self, method: str) -> None:
        if self.hook:
            self.hook(method, "after")

    def _calendar(self, account: str, calendar_id: str) -> _Calendar:
        try:
            return self.accounts[account][calendar_id]
        except KeyError:
            raise EventNotFound(f"there is no calendar '{calendar_id}'") from None

    def _stamp(self, item: _Item) -> None:
        item.seq = next(self._seq)
        item.etag = f'"{item.seq}-{uuid_mod.uuid4().hex[:8]}"'
        now = self.clock()
        if item.single is not None:
            item.single = replace(item.single, etag=item.etag, updated=now)
        if item.series is not None:
            item.series.base = replace(item.series.base, etag=item.etag, updated=now)
            for rid, ev in item.series.overrides.items():
                item.series.overrides[rid] = replace(ev, etag=item.etag, updated=now)

    def _store(self, account: str, event: Event, *, series: Series | None = None) -> _Item:
        calendar = self._calendar(account, event.calendar_id)
        event_id = event.event_id or uuid_mod.uuid4().hex
        event = replace(event, event_id=event_id, recurrence_id="", series_id=None)
        item = calendar.items.get(event_id)
        if item is None or item.deleted:
            item = _Item(event_id=event_id, etag="", seq=0)
            calendar.items[event_id] = item
        item.deleted, item.unreadable = False, None
        if series is not None:
            series.base = replace(event, series_id=event_id)
            item.series, item.single = series, None
        else:
            item.single, item.series = event, None
        self._stamp(item)
        return item

    # ------------------------------------------------------------- the user editing elsewhere

    def user_put(self, account: str, event: Event) -> Event:
        """Creates or replaces a single event as another app would (no precondition)."""
        with self._lock:
            self.ensure_account(account)
            item = self._store(account, copy.deepcopy(event))
            assert item.single is not None
            return copy.deepcopy(item.single)

    def user_put_series(self, account: str, event: Event, *, freq: str = "weekly", count: int | None = None) -> str:
        with self._lock:
            self.ensure_account(account)
            return self._store(account, copy.deepcopy(event), series=Series(event, freq, count)).event_id

    def user_edit_occurrence(self, account: str, calendar_id: str, series_id: str, recurrence_id: str, **changes: Any) -> None:
        """Moves or edits one occurrence (an exception of the series)."""
        with self._lock:
            item = self._calendar(account, calendar_id).items[series_id]
            assert item.series is not None
            window = Window(dt.datetime.min.replace(tzinfo=UTC), dt.datetime.max.replace(tzinfo=UTC))
            current = next((e for e in item.series.instances(window) if e.recurrence_id == recurrence_id), None)
            if current is None:
                return
            item.series.overrides[recurrence_id] = replace(current, **changes)
            self._stamp(item)

    def user_cancel_occurrence(self, account: str, calendar_id: str, series_id: str, recurrence_id: str) -> None:
        with self._lock:
            item = self._calendar(account, calendar_id).items[series_id]
            assert item.series is not None
            item.series.cancelled.add(recurrence_id)
            item.series.overrides.pop(recurrence_id, None)
            self._stamp(item)

    def user_delete(self, account: str, calendar_id: str, event_id: str) -> None:
        with self._lock:
            item = self._calendar(account, calendar_id).items.get(event_id)
            if item is not None and not item.deleted:
                item.deleted = True
                self._stamp(item)

    def user_break(self, account: str, calendar_id: str, event_id: str, reason: str = "the event ends before it starts") -> None:
        """Another app stores something we cannot read over this event (an unknown TZID, end
        before start, ...): listings name it in `ChangeSet.skipped` until it is written again."""
        with self._lock:
            item = self._calendar(account, calendar_id).items.get(event_id)
            if item is not None and not item.deleted:
                item.unreadable = reason
                self._stamp(item)

    def unreadable(self, account: str, calendar_id: str = "primary") -> dict[str, str]:
        """Event id -> reason for every stored object that cannot be read."""
        with self._lock:
            items = self._calendar(account, calendar_id).items.values()
            return {i.event_id: i.unreadable for i in items if i.unreadable and not i.deleted}

    def user_touch(self, account: str, calendar_id: str, event_id: str) -> None:
        """A new etag with no edit (alarm acknowledged): must not count as a change."""
        with self._lock:
            item = self._calendar(account, calendar_id).items.get(event_id)
            if item is not None and not item.deleted:
                self._stamp(item)

    def events(self, account: str, calendar_id: str = "primary", window: Window | None = None) -> list[Event]:
        """Every live instance (series expanded in `window`, default: the coming 400 days)."""
        now = self.clock()
        window = window or Window(now - dt.timedelta(days=3650), now + dt.timedelta(days=400))
        with self._lock:
            calendar = self._calendar(account, calendar_id)
            out: list[Event] = []
            for item in calendar.items.values():
                out.extend(_expand(item, window, all_singles=True))
            return copy.deepcopy(out)


def _overlaps(event: Event, window: Window) -> bool:
    start = event.start if event.start is not None else dt.datetime.combine(event.start_date, dt.time(), UTC)  # type: ignore[arg-type]
    return _instance_end(event) > window.start and start < window.end


def _expand(item: _Item, window: Window, *, all_singles: bool = False) -> list[Event]:
    if item.deleted or item.unreadable:
        return []
    if item.single is not None:
        if all_singles or _instance_end(item.single) > window.start:
            return [item.single]
        return []
    assert item.series is not None
    return item.series.instances(window)


class MemoryProvider:
    """One open connection to one account of a MemoryCalendarServer."""

    name = "memory"

    def __init__(self, server: MemoryCalendarServer | None = None, account: str = "default") -> None:
        self.server = server or MemoryCalendarServer()
        self.account = account
        self.server.ensure_account(account)
        self.send_invitations_seen: list[bool] = []

    def _call(self, method: str) -> Any:
        self.server._enter(self.account, method)

    def list_calendars(self) -> list[CalendarInfo]:
        with self.server._lock:
            self._call("list_calendars")
            result = [copy.deepcopy(c.info) for c in self.server.accounts[self.account].values()]
        self.server._after("list_calendars")
        return result

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None = None) -> ChangeSet:
        with self.server._lock:
            self._call("list_changes")
            calendar = self.server._calendar(self.account, calendar_id)
            since = 0
            if cursor is not None:
                try:
                    epoch, since = (int(x) for x in cursor.split(":"))
                except ValueError:
                    raise CursorExpired("the sync cursor is not valid: a full sync is needed") from None
                if epoch != calendar.epoch:
                    raise CursorExpired("the sync cursor expired: a full sync is needed")
            # Paged in event-id order, so edits between pages neither hide nor repeat an event;
            # the cursor is the change sequence seen when the listing began.
            if page is not None:
                top_text, after = page.split(":", 1)
                top = int(top_text)
            else:
                top, after = max((i.seq for i in calendar.items.values()), default=0), ""
            items = sorted(
                (i for i in calendar.items.values() if i.seq > since and i.event_id > after), key=lambda i: i.event_id
            )
            chunk = items[: self.server.page_size]
            result = ChangeSet(full=cursor is None)
            for item in chunk:
                if item.deleted:
                    if cursor is not None:
                        result.deleted.append(Removal(EventKey(calendar_id, item.event_id, "")))
                    continue
                if item.unreadable:
                    result.skipped.append((item.event_id, item.unreadable))
                    continue
                if cursor is not None and self.server.removes_outside_window and item.single is not None \
                        and not _overlaps(item.single, window):
                    result.deleted.append(Removal(EventKey(calendar_id, item.event_id, ""), "left_window"))
                    continue
                result.events.extend(copy.deepcopy(_expand(item, window, all_singles=cursor is not None)))
                if item.series is not None:
                    result.complete_series.append(item.event_id)
            if len(items) > self.server.page_size:
                result.next_page = f"{top}:{chunk[-1].event_id}"
            else:
                result.cursor = f"{calendar.epoch}:{top}"
        self.server._after("list_changes")
        return result

    def _item(self, calendar_id: str, event_id: str) -> _Item | None:
        item = self.server._calendar(self.account, calendar_id).items.get(event_id)
        return None if item is None or item.deleted else item

    def create_event(self, event: Event, *, send_invitations: bool) -> Event:
        with self.server._lock:
            self._call("create_event")
            self.send_invitations_seen.append(send_invitations)
            event_id = event_id_for(event.activity_uuid) if event.activity_uuid else (event.event_id or uuid_mod.uuid4().hex)
            if self._item(event.calendar_id, event_id) is not None:
                raise AlreadyExists(f"an event with id {event_id} already exists")
            item = self.server._store(self.account, replace(copy.deepcopy(event), event_id=event_id))
            result = copy.deepcopy(item.single)
        self.server._after("create_event")
        assert result is not None
        return result

    def update_event(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        with self.server._lock:
            self._call("update_event")
            self.send_invitations_seen.append(send_invitations)
            item = self._item(event.calendar_id, event.event_id)
            if item is None:
                raise EventNotFound(f"event {event.event_id} is gone")
            if etag is not None and etag != item.etag:
                raise PreconditionFailed(f"event {event.event_id} changed since etag {etag}")
            if event.recurrence_id and item.series is not None:
                item.series.overrides[event.recurrence_id] = copy.deepcopy(event)
                self.server._stamp(item)
                window = Window(dt.datetime.min.replace(tzinfo=UTC), dt.datetime.max.replace(tzinfo=UTC))
                result = next(e for e in item.series.instances(window) if e.recurrence_id == event.recurrence_id)
            else:
                # what the engine does not map (status, uid, ...) stays as the calendar holds it
                kept = item.single if item.single is not None else None
                stored = replace(kept, **{name: getattr(event, name) for name in MAPPED}) if kept is not None else event
                item = self.server._store(self.account, copy.deepcopy(stored))
                result = item.single  # type: ignore[assignment]
            result = copy.deepcopy(result)
        self.server._after("update_event")
        return result

    def delete_event(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        with self.server._lock:
            self._call("delete_event")
            item = self._item(calendar_id, event_id)
            if item is not None:
                if etag is not None and etag != item.etag:
                    raise PreconditionFailed(f"event {event_id} changed since etag {etag}")
                item.deleted = True
                self.server._stamp(item)
        self.server._after("delete_event")

    def restore_series(self, calendar_id: str, event_id: str, original: str | None) -> None:
        """Puts a deleted series back as it was (the server keeps deleted items)."""
        with self.server._lock:
            self._call("restore_series")
            item = self.server._calendar(self.account, calendar_id).items.get(event_id)
            if item is None or item.series is None:
                raise EventNotFound(f"there is no series {event_id} to put back")
            if not item.deleted:
                raise AlreadyExists(f"the series {event_id} is there already")
            item.deleted = False
            self.server._stamp(item)
        self.server._after("restore_series")

    def get_event(self, calendar_id: str, event_id: str) -> list[Event]:
        with self.server._lock:
            self._call("get_event")
            item = self._item(calendar_id, event_id)
            if item is not None and item.unreadable:
                raise ProviderError(f"the event {event_id} cannot be read: {item.unreadable}")
            now = self.server.clock()
            window = Window(now - dt.timedelta(days=3650), now + dt.timedelta(days=3650))
            result = copy.deepcopy(_expand(item, window, all_singles=True)) if item else []
        self.server._after("get_event")
        return result

    def find_by_activity_id(self, calendar_id: str, activity_uuid: str) -> Event | None:
        with self.server._lock:
            self._call("find_by_activity_id")
            found = None
            for item in self.server._calendar(self.account, calendar_id).items.values():
                if not item.deleted and not item.unreadable and item.single is not None and item.single.activity_uuid == activity_uuid:
                    found = copy.deepcopy(item.single)
                    break
        self.server._after("find_by_activity_id")
        return found

    def close(self) -> None:
        return None


class MemoryProviderFactory:
    """Connects to an account of a MemoryCalendarServer. Params: {"account": name, "password"?}."""

    name = "memory"
    label = "In-memory calendar (demo and tests)"

    def __init__(self, server: MemoryCalendarServer | None = None) -> None:
        self.server = server or MemoryCalendarServer()

    def connect(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        account = str(params.get("account") or "").strip()
        if not account:
            raise ConnectError("enter the account name of the calendar", field="account")
        expected = self.server.passwords.get(account)
        if expected is not None and params.get("password") != expected:
            raise ConnectError("the password is wrong for this calendar account", field="password")
        self.server.ensure_account(account)
        if account in self.server.revoked:
            raise ConnectError("this calendar account refuses access: check its sharing settings", field="account")
        return account, {"account": account}

    def open(self, credentials: dict[str, Any]) -> MemoryProvider:
        return self.server.open(str(credentials["account"]))


DEFAULT_FACTORY = registry.register(MemoryProviderFactory())
