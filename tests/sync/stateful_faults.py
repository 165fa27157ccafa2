"""A provider wrapper for the stateful machine: scripted faults, crash points and hooks on any
provider (the in-memory one or CalDAV on a real server), so every fault rule runs on both."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, Callable

from calsync.sync.model import ChangeSet, Event
from calsync.sync.provider import CalendarProvider, ProviderError, RateLimited

WRITES = ("create_event", "update_event", "delete_event")


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the engine may catch it)."""


class Faults:
    """What the next run's provider calls will meet. One instance per machine; `wrap` per run."""

    def __init__(self) -> None:
        self.plan: list[dict[str, Any]] = []  # {kind, method, at}: the at-th call of method fails
        self.hook: Callable[[str, str], None] | None = None  # (method, "before"|"after")
        self.requests: Counter[str] = Counter()
        self.calls = itertools.count(1)
        self.drop = 0  # complete listings leave out this many single events (a server's bad query)
        self.dropped: list[Event] = []

    def clear(self) -> None:
        self.plan.clear()
        self.hook = None
        self.drop = 0
        self.dropped = []

    def fail(self, kind: str, method: str | None, at: int = 1, times: int = 1) -> None:
        """The `at`-th call (counting from now) of `method` (any when None) and the `times - 1`
        calls after it fail with `kind`: 5xx, 429 or timeout."""
        self.plan.append(dict(kind=kind, method=method, at=at, times=times, seen=0))

    def _enter(self, method: str) -> None:
        self.requests[method] += 1
        if self.hook:
            self.hook(method, "before")
        for fault in list(self.plan):
            if fault["method"] not in (None, method):
                continue
            fault["seen"] += 1
            if fault["seen"] < fault["at"]:
                continue
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.plan.remove(fault)
            if fault["kind"] == "429":
                raise RateLimited("the calendar provider asks us to slow down (429)", retry_after=1.0)
            if fault["kind"] == "timeout":
                raise ProviderError("the calendar provider did not answer in time")
            raise ProviderError("the calendar provider had an internal error (503)")

    def _after(self, method: str) -> None:
        if self.hook:
            self.hook(method, "after")

    def wrap(self, provider: CalendarProvider) -> "FaultyProvider":
        return FaultyProvider(provider, self)


class FaultyProvider:
    """Delegates to the real provider, passing every call through `Faults` first."""

    def __init__(self, inner: CalendarProvider, faults: Faults) -> None:
        self.inner, self.faults = inner, faults
        self.seen_ids: set[str] = set()
        self.members_given = False
        self.name = getattr(inner, "name", "wrapped")

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.faults._enter(method)
        result = getattr(self.inner, method)(*args, **kwargs)
        self.faults._after(method)
        return result

    def list_calendars(self) -> Any:
        return self._call("list_calendars")

    def list_changes(self, calendar_id: str, cursor: str | None, window: Any, page: str | None = None) -> ChangeSet:
        changes: ChangeSet = self._call("list_changes", calendar_id, cursor, window, page)
        if cursor is None and (self.faults.drop > 0 or self.faults.dropped):
            # the windowed query leaves events out while the membership listing still names them
            # (a provider with no membership listing of its own gets one built from this listing)
            if page is None:
                self.seen_ids, self.members_given = set(), False
            kept: list[Event] = []
            for event in changes.events:
                self.seen_ids.add(event.event_id)
                if self.faults.drop > 0 and not event.series_id:
                    self.faults.drop -= 1
                    self.faults.dropped.append(event)
                else:
                    kept.append(event)
            changes.events = kept
            self.seen_ids.update(item_id for item_id, _ in changes.skipped)
            if changes.next_page is None and not self.members_given and getattr(changes, "members", None) is None:
                changes.members = sorted(self.seen_ids)  # type: ignore[attr-defined]
            self.members_given = self.members_given or getattr(changes, "members", None) is not None
        return changes

    def create_event(self, event: Event, *, send_invitations: bool) -> Event:
        return self._call("create_event", event, send_invitations=send_invitations)

    def update_event(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        return self._call("update_event", event, etag, send_invitations=send_invitations)

    def delete_event(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        return self._call("delete_event", calendar_id, event_id, etag)

    def get_event(self, calendar_id: str, event_id: str) -> list[Event]:
        return self._call("get_event", calendar_id, event_id)

    def find_by_activity_id(self, calendar_id: str, activity_uuid: str) -> Event | None:
        return self._call("find_by_activity_id", calendar_id, activity_uuid)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # optional capabilities (prefetch, multiget, ...) pass through unfaulted
        return getattr(self.inner, name)
