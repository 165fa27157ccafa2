"""One calendar object (href, etag, iCalendar text) -> the Event instances it holds in a window.

A recurring object (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, VTIMEZONE, X-WR-TIMEZONE) is
expanded with recurring-ical-events into one Event per occurrence inside the window, each with
`series_id` (the object's href) and `recurrence_id` (its original start). Cancelled occurrences
are left out: the series is listed as complete, so a missing occurrence means cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field

import recurring_ical_events

from calsync.providers.caldav import ical
from calsync.sync.model import Event
from calsync.sync.provider import Window


@dataclass
class Expanded:
    events: list[Event] = field(default_factory=list)
    series_id: str | None = None  # set when the object is a recurring series
    skipped: str | None = None  # reason, when the object cannot be mapped


def expand(calendar_id: str, href: str, etag: str | None, text: str, window: Window) -> Expanded:
    try:
        cal = ical.parse(text)
        components = ical.vevents(cal)
        for component in components:
            ical.check(component)
        if not ical.is_recurring(components):
            return Expanded([ical.to_event(components[0], calendar_id=calendar_id, href=href, etag=etag, raw=text)])
        try:
            occurrences = list(recurring_ical_events.of(cal).between(window.start, window.end))
        except Exception as exc:  # broken RRULE and friends
            raise ical.Unmappable(f"the recurrence rule cannot be expanded ({type(exc).__name__})") from exc
        events = [
            ical.to_event(o, calendar_id=calendar_id, href=href, etag=etag, raw=text, series_id=href)
            for o in occurrences
            if str(o.get("STATUS", "")).upper() != "CANCELLED"
        ]
        return Expanded(events, series_id=href)
    except ical.Unmappable as exc:
        return Expanded(skipped=exc.reason)
    except Exception as exc:  # one odd object must not stop the listing of the others
        return Expanded(skipped=f"the event cannot be read ({type(exc).__name__})")
