"""One calendar object (href, etag, iCalendar text) -> the Event instances it holds in a window.

A recurring object (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, VTIMEZONE, X-WR-TIMEZONE) is
expanded with recurring-ical-events into one Event per occurrence inside the window, each with
`series_id` (the object's href) and `recurrence_id` (its original start). Cancelled occurrences
are left out: the series is listed as complete, so a missing occurrence means cancelled.

Expansion is bounded before it starts, never cut after: a series yields at most
`max_occurrences` instances (those ending first after the window opens; the cut is reported in
`Expanded.cut`), and a rule that would need more than MAX_STEPS recurrence steps to get there
(FREQ=SECONDLY since last year...) is refused with its reason, so one object costs a bounded
time and memory whatever its RRULE says."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import recurring_ical_events
from dateutil.rrule import rrulestr

from calsync.providers.caldav import ical
from calsync.sync.model import Event
from calsync.sync.provider import Window


@dataclass
class Expanded:
    events: list[Event] = field(default_factory=list)
    series_id: str | None = None  # set when the object is a recurring series
    skipped: str | None = None  # reason, when the object cannot be mapped
    cut: str | None = None  # what was left out, when the series had more occurrences than allowed
    outside: list[str] = field(default_factory=list)  # recurrence ids of live overrides moved out of the window


MAX_OCCURRENCES = 500  # per series and window (CALSYNC_MAX_OCCURRENCES_PER_SERIES)
MAX_STEPS = 50_000  # recurrence steps walked to bound one series (from its DTSTART)


def expansion_end(components: list, window: Window, limit: int) -> tuple[dt.datetime, bool]:  # type: ignore[type-arg]
    """Where expansion must stop so that at most about `limit` occurrences of the series' RRULE
    end after the window opens: (window.end, False), or (the start of occurrence limit + 1,
    True). Walks the rule with dateutil (no component is built) and gives up with Unmappable
    after MAX_STEPS steps. Overrides and RDATEs are few, bounded by the object's size."""
    masters = [c for c in components if "RECURRENCE-ID" not in c and "RRULE" in c]
    if not masters:
        return window.end, False
    master = masters[0]
    rules = master.get("RRULE")
    rule_text = "\n".join("RRULE:" + r.to_ical().decode() for r in (rules if isinstance(rules, list) else [rules]))
    start = master["DTSTART"].dt
    try:
        length = master.end - master.start if ("DTEND" in master or "DURATION" in master) else dt.timedelta(0)
    except Exception:
        length = dt.timedelta(0)
    opens, closes = window.start, window.end
    if not isinstance(start, dt.datetime):  # all-day: walk dates as naive midnights
        start, length = dt.datetime.combine(start, dt.time()), max(length, dt.timedelta(days=1))
    if start.tzinfo is None:
        # floating or all-day: compared as UTC, counting only what surely ends in the window
        # (the result is cut to `limit` after expansion anyway)
        opens, closes = (opens + dt.timedelta(hours=14)).replace(tzinfo=None), (closes + dt.timedelta(hours=14)).replace(tzinfo=None)
    kept = 0
    try:
        steps = iter(rrulestr(rule_text, dtstart=start, forceset=True))
        for count, when in enumerate(steps):
            if count >= MAX_STEPS:
                raise ical.Unmappable(
                    f"the series repeats too often to expand (more than {MAX_STEPS:,} occurrences up to the "
                    f"sync window): give it an end or a lower frequency"
                )
            if when >= closes:
                return window.end, False
            if when + length > opens:
                kept += 1
                if kept > limit:
                    if when < opens:  # more than `limit` long occurrences overlap the window's start
                        raise ical.Unmappable(
                            f"the series has more than {limit:,} occurrences running at once: "
                            f"give it shorter occurrences or a lower frequency"
                        )
                    stop = when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)
                    return max(window.start, stop), True
    except ical.Unmappable:
        raise
    except Exception:  # a rule dateutil cannot walk: recurring-ical-events reports it, if broken
        return window.end, False
    return window.end, False


def expand(calendar_id: str, href: str, etag: str | None, text: str, window: Window,
           max_occurrences: int = MAX_OCCURRENCES) -> Expanded:
    try:
        cal = ical.parse(text)
        components = ical.vevents(cal)
        for component in components:
            ical.check(component)
        if not ical.is_recurring(components):
            return Expanded([ical.to_event(components[0], calendar_id=calendar_id, href=href, etag=etag, raw=text)])
        stop, cut = expansion_end(components, window, max_occurrences)
        try:
            occurrences = list(recurring_ical_events.of(cal).between(window.start, stop))
        except Exception as exc:  # broken RRULE and friends
            raise ical.Unmappable(f"the recurrence rule cannot be expanded ({type(exc).__name__})") from exc
        events = [
            ical.to_event(o, calendar_id=calendar_id, href=href, etag=etag, raw=text, series_id=href)
            for o in occurrences
            if str(o.get("STATUS", "")).upper() != "CANCELLED"
        ]
        events.sort(key=_start_of)
        if len(events) > max_occurrences:  # overrides moved into the span, RDATEs
            events, cut = events[:max_occurrences], True
        note = None
        if cut:
            last = _start_of(events[-1]) if events else window.start
            note = (f"the series has more occurrences than the {max_occurrences:,} taken in per series: "
                    f"occurrences after {last:%Y-%m-%d %H:%M} UTC are left out")
        listed = {e.recurrence_id for e in events}
        outside = sorted({
            ical.occurrence_id(c["RECURRENCE-ID"].dt) for c in components
            if "RECURRENCE-ID" in c and str(c.get("STATUS", "")).upper() != "CANCELLED"
        } - listed)
        return Expanded(events, series_id=href, cut=note, outside=[] if cut else outside)
    except ical.Unmappable as exc:
        return Expanded(skipped=exc.reason)
    except Exception as exc:  # one odd object must not stop the listing of the others
        return Expanded(skipped=f"the event cannot be read ({type(exc).__name__})")


def _start_of(event: Event) -> dt.datetime:
    if event.all_day and event.start_date is not None:
        return dt.datetime.combine(event.start_date, dt.time(), dt.timezone.utc)
    assert event.start is not None
    return event.start
