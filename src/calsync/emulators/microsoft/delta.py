"""`calendarView/delta`: rounds of pages (`@odata.nextLink` with `$skiptoken`) ending in an
`@odata.deltaLink` (`$deltatoken`), changes since a token, `@removed` items, and token eviction.

A delta token remembers what the client was shown (each item's version); the next round shows
what is new or changed in the window and, as `@removed`, what left it: reason "deleted" when the
item is gone from the calendar, and for an item that still exists outside the window the reason
`left_window_reason` ("changed" unless a test asks for "deleted", which Graph also sends). Tokens
live in an LRU cache; an evicted or unknown token answers 410 `SyncStateNotFound`.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from calsync.emulators.microsoft import instances
from calsync.emulators.microsoft.errors import GraphError, bad_request
from calsync.emulators.microsoft.instances import Instance
from calsync.emulators.microsoft.prefer import Prefer
from calsync.emulators.microsoft.store import Calendar, Store
from calsync.emulators.microsoft.times import parse_query_instant

UNSUPPORTED = ("$select", "$filter", "$orderby", "$search", "$expand")
Renderer = Callable[[Instance], dict[str, Any]]


@dataclass
class Member:
    version: int
    rest_id: str
    immutable_id: str


@dataclass
class Scope:
    user: str
    calendar: Calendar
    start: datetime
    end: datetime
    path: str                 # /v1.0/me/calendarView/delta (as the client asked)


@dataclass
class Snapshot:
    """What a delta token stands for."""

    scope: Scope
    members: dict[str, Member]
    seq: int


@dataclass
class Round:
    """A round being paged through (what a skip token stands for)."""

    scope: Scope
    items: list[dict[str, Any]]
    next: Snapshot
    offset: int = 0


@dataclass
class Options:
    left_window_reason: str = "changed"
    out_of_range_removals: bool = False   # changes outside the window also come as @removed (Graph does)
    duplicate_items: bool = False         # every changed item twice in a round (replays are allowed)


@dataclass
class Tokens:
    capacity: int
    cache: OrderedDict[str, Snapshot | Round] = field(default_factory=OrderedDict)
    resync: set[str] = field(default_factory=set)
    generation: int = 1
    options: Options = field(default_factory=Options)

    def mint(self, state: Snapshot | Round) -> str:
        token = secrets.token_urlsafe(48)
        self.cache[token] = state
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        self.generation += 1
        return token

    def get(self, token: str) -> Snapshot | Round:
        state = self.cache.get(token)
        if state is None:
            raise GraphError(410, "SyncStateNotFound",
                             f"The sync state generation is not found; generation={max(1, self.generation - 1)};"
                             f"[highest={self.generation}][{self.generation}].")
        self.cache.move_to_end(token)
        return state

    def expire(self, mode: str) -> int:
        count = len(self.cache)
        if mode == "resync":
            self.resync.update(self.cache)
        else:
            self.cache.clear()
            self.resync.clear()
            self.generation += 7
        return count


def _exists_elsewhere(store: Store, cal: Calendar, key: str, horizon_days: int) -> bool:
    """Is the item still in this calendar (outside the window), as opposed to deleted?"""
    hex_key, _, stamp = key.partition("@")
    record = store.mailbox(cal.owner).records.get(bytes.fromhex(hex_key))
    if record is None or record.calendar is not cal:
        return False
    if not stamp:
        return not record.is_master
    if not record.is_master:
        return False
    return any(i.member_key == key for i in instances.occurrences(store, cal.owner, record, horizon_days))


def _round(store: Store, scope: Scope, previous: Snapshot | None, render: Renderer, prefer: Prefer,
           options: Options, horizon_days: int) -> Round:
    current = instances.view(store, scope.calendar, scope.start, scope.end, horizon_days)
    members = previous.members if previous else {}
    items: list[dict[str, Any]] = []
    for inst in current:
        seen = members.get(inst.member_key)
        if seen is None or seen.version != inst.version:
            items.append({"@odata.type": "#microsoft.graph.event", **render(inst)})
    shown = {i.member_key for i in current}
    for key, member in members.items():
        if key in shown:
            continue
        reason = options.left_window_reason if _exists_elsewhere(store, scope.calendar, key, horizon_days) else "deleted"
        items.append({"@odata.type": "#microsoft.graph.event",
                      "id": member.immutable_id if prefer.immutable_ids else member.rest_id,
                      "@removed": {"reason": reason}})
    if options.out_of_range_removals and previous is not None:
        for record in store.in_calendar(scope.calendar):
            outside = record.seq > previous.seq and record.master_key is None and not any(
                i.series_key == record.key for i in current) and record.key.hex() not in members
            if outside:
                inst = instances.of_record(record)
                items.append({"@odata.type": "#microsoft.graph.event",
                              "id": inst.id(scope.user, prefer.immutable_ids), "@removed": {"reason": "deleted"}})
    if options.duplicate_items:
        items += [dict(i) for i in items if "@removed" not in i]
    nxt = {i.member_key: Member(i.version, i.id(scope.user, False), i.id(scope.user, True)) for i in current}
    return Round(scope, items, Snapshot(scope, nxt, store.seq))


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def delta(store: Store, tokens: Tokens, user: str, cal: Calendar, path: str, query: dict[str, list[str]],
          prefer: Prefer, base: str, render: Renderer, page_size: int, horizon_days: int) -> tuple[dict[str, Any], dict[str, str]]:
    """One delta page: (body, headers)."""
    for name in UNSUPPORTED:
        if name in query:
            raise bad_request(f"The query parameter '{name}' is not supported with change tracking over the "
                              f"'Event' resource.", "ErrorInvalidUrlQuery")
    skip, token = _one(query, "$skiptoken"), _one(query, "$deltatoken")
    if skip is not None or token is not None:
        given = skip if skip is not None else token
        assert given is not None
        if given in tokens.resync:
            state = tokens.get(given)
            fresh = tokens.mint(Snapshot(state.scope, {}, 0))
            raise GraphError(410, "resyncRequired", "Resync required. Replace any local cached data with the data "
                                                    "returned by the Location URL.",
                             {"Location": state.scope.path and base + state.scope.path + "?" +
                              urlencode({"$deltatoken": fresh}, safe="$")})
        state = tokens.get(given)
        if state.scope.user != user:   # another mailbox's token means nothing here
            raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
        if skip is not None:
            if not isinstance(state, Round):
                raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
            rnd = state
        else:
            if not isinstance(state, Snapshot):
                raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
            rnd = _round(store, state.scope, state, render, prefer, tokens.options, horizon_days)
    else:
        start = parse_query_instant(_one(query, "startDateTime"), "startDateTime")
        end = parse_query_instant(_one(query, "endDateTime"), "endDateTime")
        if end <= start:
            raise bad_request("endDateTime must be after startDateTime.", "ErrorInvalidParameter")
        rnd = _round(store, Scope(user, cal, start, end, path), None, render, prefer, tokens.options, horizon_days)
    page = rnd.items[rnd.offset:rnd.offset + page_size]
    body: dict[str, Any] = {"@odata.context": f"{base}/v1.0/$metadata#Collection(event)"}
    if rnd.offset + page_size < len(rnd.items):
        following = Round(rnd.scope, rnd.items, rnd.next, rnd.offset + page_size)
        body["@odata.nextLink"] = base + rnd.scope.path + "?" + urlencode({"$skiptoken": tokens.mint(following)}, safe="$")
    else:
        body["@odata.deltaLink"] = base + rnd.scope.path + "?" + urlencode({"$deltatoken": tokens.mint(rnd.next)}, safe="$")
    body["value"] = page
    applied = ", ".join(x for x in ("odata.track-changes", prefer.applied()) if x)
    return body, {"Preference-Applied": applied}
