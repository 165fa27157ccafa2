"""The neutral event: what every provider turns its wire format into, and what the engine maps
to and from CRM activities. Plain data, no behaviour beyond identity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

Privacy = Literal["public", "private", "confidential"]
Status = Literal["confirmed", "tentative", "cancelled"]


@dataclass(frozen=True)
class EventKey:
    """Identity of one event *instance*: (calendar, event id or href, recurrence id or "")."""

    calendar_id: str
    event_id: str
    recurrence_id: str = ""


RemovalReason = Literal["deleted", "left_window"]


@dataclass(frozen=True)
class Removal:
    """An item a listing reports as gone, and why. `deleted`: the provider says it no longer
    exists (a tombstone, a 404). `left_window`: it still exists but moved out of the listed
    window (Graph's calendarView delta reports such events as `@removed` too; Google's moved
    occurrence beyond the horizon). Only `deleted` is evidence of a deletion."""

    key: EventKey
    reason: RemovalReason = "deleted"

    @property
    def calendar_id(self) -> str:
        return self.key.calendar_id

    @property
    def event_id(self) -> str:
        return self.key.event_id

    @property
    def recurrence_id(self) -> str:
        return self.key.recurrence_id


@dataclass
class EventAttendee:
    email: str
    name: str = ""
    status: str = "needs_action"  # needs_action / accepted / declined / tentative
    organizer: bool = False


@dataclass
class Event:
    """One calendar event instance, provider-neutral.

    Timed: `start`/`end` aware datetimes plus `timezone` (IANA). All-day: `start_date`/`end_date`
    (end exclusive), no zone. `series_id` is set for occurrences of a recurring series, with
    `recurrence_id` naming the occurrence (its original start, ISO). `activity_uuid` is our id,
    stored by the provider in an extended / X- property. `raw` is provider-private data (for
    example the original iCalendar text) handed back on update so unmapped properties survive.
    `floating`: the provider read a local time with no zone (iCalendar DTSTART without TZID or Z);
    `start`/`end` then hold that wall-clock time labelled UTC, and the engine reads it in the
    account owner's zone (RFC 5545 section 3.3.5), since only the engine knows the owner.
    """

    calendar_id: str
    event_id: str = ""
    recurrence_id: str = ""
    etag: str | None = None
    updated: dt.datetime | None = None
    uid: str | None = None
    activity_uuid: str | None = None
    summary: str = ""
    description: str = ""
    location: str = ""
    all_day: bool = False
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    timezone: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    busy: bool = True
    privacy: Privacy = "public"
    status: Status = "confirmed"
    attendees: list[EventAttendee] = field(default_factory=list)
    conference_url: str = ""
    series_id: str | None = None
    raw: Any = None
    floating: bool = False

    @property
    def key(self) -> EventKey:
        return EventKey(self.calendar_id, self.event_id, self.recurrence_id)

    @property
    def is_private(self) -> bool:
        return self.privacy in ("private", "confidential")

    @property
    def is_occurrence(self) -> bool:
        return self.series_id is not None

    def ends_before(self, now: dt.datetime) -> bool:
        """True when the event is over at `now` (all-day: end date reached in UTC-12, the last zone)."""
        if self.all_day:
            assert self.end_date is not None
            latest = dt.datetime.combine(self.end_date, dt.time(), dt.timezone.utc) + dt.timedelta(hours=12)
            return latest <= now
        assert self.end is not None
        return self.end <= now


@dataclass
class CalendarInfo:
    id: str
    name: str
    writable: bool = True
    primary: bool = False
    color: str | None = None


@dataclass
class ChangeSet:
    """One page of changes.

    `events` are upserts (recurring series expanded into instances within the window);
    `deleted` are removals, each with its reason: only reason `deleted` is a tombstone, an item
    that `left_window` still exists and its activity stays. `full` means this listing (over all its pages) is complete
    evidence: anything linked and not listed is gone. `complete_series` names series whose
    in-window instances are all in this page set, so missing occurrences were cancelled.
    `cursor` is set only on the last page (`next_page` is None there).

    `skipped` names objects the provider holds but cannot read, with the reason: they are present
    (never evidence of a deletion), just unreadable. `members` is the membership listing of a full
    listing when the provider has one besides its windowed query (CalDAV sync-collection or etag
    listing): every object id in the calendar. Set on one page; None when there is none.
    """

    events: list[Event] = field(default_factory=list)
    deleted: list[Removal] = field(default_factory=list)
    cursor: str | None = None
    next_page: str | None = None
    full: bool = False
    complete_series: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item id, reason)
    members: list[str] | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # (item label, message) for the run log, e.g. a series cut
    # progress only (never evidence of anything): how many calendar objects the whole listing
    # holds, when the provider knows, and how many of them this page read (None: count its events)
    total: int | None = None
    objects: int | None = None
