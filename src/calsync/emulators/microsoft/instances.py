"""What a calendar shows: single events, series masters and the occurrences and exceptions of each
series, resolved from ids and expanded over a time window (calendarView, instances, delta)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from calsync.emulators.microsoft import ids, recurrence
from calsync.emulators.microsoft.errors import item_not_found
from calsync.emulators.microsoft.store import Calendar, Record, Store
from calsync.emulators.microsoft.times import parse_when


@dataclass
class Instance:
    """One item as Graph shows it. A generated occurrence has `record` = its series master."""

    kind: str                       # singleInstance | seriesMaster | occurrence | exception
    record: Record
    start: datetime                 # aware, in the zone the client wrote
    end: datetime
    master: Record | None = None
    original_start: datetime | None = None   # UTC, occurrences and exceptions

    @property
    def series_key(self) -> bytes:
        return self.master.key if self.master is not None else self.record.key

    @property
    def member_key(self) -> str:
        """Stable across an occurrence turning into an exception (delta membership)."""
        suffix = f"@{int(self.original_start.timestamp())}" if self.original_start else ""
        return self.series_key.hex() + suffix

    @property
    def version(self) -> int:
        if self.kind == "occurrence":
            return self.record.content_seq
        return self.record.seq

    @property
    def change_key(self) -> str:
        if self.kind != "occurrence":
            return self.record.change_key
        digest = hashlib.sha256(f"{self.record.content_key}/{self.member_key}".encode()).digest()[:18]
        return base64.b64encode(digest).decode()

    def id(self, user: str, immutable: bool) -> str:
        owner = self.master if self.master is not None else self.record
        return ids.encode(user, owner.key, owner.generation, immutable, self.original_start)

    @property
    def utc_start(self) -> datetime:
        return self.start.astimezone(timezone.utc)

    @property
    def utc_end(self) -> datetime:
        return self.end.astimezone(timezone.utc)


def of_record(record: Record, master: Record | None = None) -> Instance:
    start, end = parse_when(record.data["start"], "start"), parse_when(record.data["end"], "end")
    if record.master_key is not None:
        return Instance("exception", record, start.moment, end.moment, master, record.original_start)
    return Instance("seriesMaster" if record.is_master else "singleInstance", record, start.moment, end.moment)


def occurrences(store: Store, user: str, master: Record, horizon_days: int) -> list[Instance]:
    """The series as Graph expands it: unmoved occurrences, exceptions in their place, cancelled ones gone."""
    start, end = parse_when(master.data["start"], "start"), parse_when(master.data["end"], "end")
    length = end.moment - start.moment
    exceptions = {r.original_start: r for r in store.exceptions_of(user, master)}
    out = []
    for moment in recurrence.starts(master.data["recurrence"], start, horizon_days):
        original = moment.astimezone(timezone.utc)
        if original in master.cancelled:
            continue
        if original in exceptions:
            out.append(of_record(exceptions[original], master))
        else:
            out.append(Instance("occurrence", master, moment, moment + length, master, original))
    return out


def in_window(inst: Instance, start: datetime, end: datetime) -> bool:
    if inst.utc_start == inst.utc_end:
        return start <= inst.utc_start < end
    return inst.utc_start < end and inst.utc_end > start


def view(store: Store, cal: Calendar, start: datetime, end: datetime, horizon_days: int) -> list[Instance]:
    """calendarView: singles, occurrences and exceptions overlapping [start, end), by start time."""
    out: list[Instance] = []
    for record in store.in_calendar(cal):
        if record.master_key is not None:
            continue   # exceptions come through their master
        if record.is_master:
            out += [i for i in occurrences(store, cal.owner, record, horizon_days) if in_window(i, start, end)]
        else:
            inst = of_record(record)
            if in_window(inst, start, end):
                out.append(inst)
    out.sort(key=lambda i: (i.utc_start, i.member_key))
    return out


def resolve(store: Store, user: str, event_id: str, horizon_days: int) -> Instance:
    """The item an id names (any calendar of the mailbox); 404 ErrorItemNotFound otherwise."""
    parsed = ids.decode(event_id)
    box = store.mailbox(user)
    if parsed is None or parsed.tag != ids.mailbox_tag(user):
        raise item_not_found()
    record = box.records.get(parsed.key)
    if record is None or record.master_key is not None:
        raise item_not_found()
    if not parsed.immutable and parsed.generation != record.generation % 256:
        raise item_not_found()   # a REST id from before the event moved calendars
    if parsed.start is None:
        return of_record(record)
    if not record.is_master:
        raise item_not_found()
    for inst in occurrences(store, user, record, horizon_days):
        if inst.original_start == parsed.start:
            return inst
    raise item_not_found()
