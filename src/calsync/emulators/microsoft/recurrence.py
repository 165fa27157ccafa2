"""`patternedRecurrence` (pattern + range, not RRULE): validation and expansion into occurrences.

Occurrences keep their wall-clock time in the series' start zone across DST changes. A series with
no end is expanded up to a horizon so every view stays finite.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from calsync.emulators.microsoft.errors import bad_request
from calsync.emulators.microsoft.times import When

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
PATTERNS = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly")
RANGES = ("endDate", "noEnd", "numbered")
_PATTERN_KEYS = {"type", "interval", "month", "dayOfMonth", "daysOfWeek", "firstDayOfWeek", "index", "@odata.type"}
_RANGE_KEYS = {"type", "startDate", "endDate", "recurrenceTimeZone", "numberOfOccurrences", "@odata.type"}
MAX_OCCURRENCES = 5000


def _date(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise bad_request(f"{field} must be a date such as 2027-03-01 (got {value!r}).") from None


def normalise(value: Any, start: When) -> dict[str, Any] | None:
    """The recurrence as Graph echoes it (defaults filled in); 400 naming what is wrong."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("pattern"), dict) or not isinstance(value.get("range"), dict):
        raise bad_request("recurrence needs a pattern and a range.")
    p, r = value["pattern"], value["range"]
    for key in set(p) - _PATTERN_KEYS:
        raise bad_request(f"The property '{key}' does not exist on type 'microsoft.graph.recurrencePattern'.",
                          "RequestBodyRead")
    for key in set(r) - _RANGE_KEYS:
        raise bad_request(f"The property '{key}' does not exist on type 'microsoft.graph.recurrenceRange'.",
                          "RequestBodyRead")
    kind = p.get("type")
    if kind not in PATTERNS:
        raise bad_request(f"recurrence.pattern.type must be one of {', '.join(PATTERNS)} (got {kind!r}).")
    interval = p.get("interval")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise bad_request("recurrence.pattern.interval is required and must be at least 1.")
    days = p.get("daysOfWeek") or []
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise bad_request(f"recurrence.pattern.daysOfWeek takes day names ({', '.join(DAYS)}).")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise bad_request(f"recurrence.pattern.daysOfWeek is required for a {kind} pattern.")
    month, day = p.get("month", 0) or 0, p.get("dayOfMonth", 0) or 0
    if kind in ("absoluteMonthly", "absoluteYearly") and not (isinstance(day, int) and 1 <= day <= 31):
        raise bad_request(f"recurrence.pattern.dayOfMonth (1-31) is required for a {kind} pattern.")
    if kind in ("absoluteYearly", "relativeYearly") and not (isinstance(month, int) and 1 <= month <= 12):
        raise bad_request(f"recurrence.pattern.month (1-12) is required for a {kind} pattern.")
    first = p.get("firstDayOfWeek") or "sunday"
    index = p.get("index") or "first"
    if first not in DAYS or index not in INDEX:
        raise bad_request("recurrence.pattern.firstDayOfWeek takes a day name and index first, second, third, "
                          "fourth or last.")
    range_type = r.get("type")
    if range_type not in RANGES:
        raise bad_request(f"recurrence.range.type must be one of {', '.join(RANGES)} (got {range_type!r}).")
    start_date = _date(r.get("startDate"), "recurrence.range.startDate")
    if start_date != start.moment.date():
        raise bad_request("recurrence.range.startDate must be the date of the event's start "
                          f"({start.moment.date().isoformat()}).")
    end_date = r.get("endDate") or "0001-01-01"
    if range_type == "endDate":
        if _date(end_date, "recurrence.range.endDate") < start_date:
            raise bad_request("recurrence.range.endDate is before its startDate.")
    count = r.get("numberOfOccurrences") or 0
    if range_type == "numbered" and not (isinstance(count, int) and count >= 1):
        raise bad_request("recurrence.range.numberOfOccurrences must be at least 1 for a numbered range.")
    return {
        "pattern": {"type": kind, "interval": interval, "month": month, "dayOfMonth": day,
                    "daysOfWeek": list(days), "firstDayOfWeek": first, "index": index},
        "range": {"type": range_type, "startDate": start_date.isoformat(), "endDate": end_date,
                  "recurrenceTimeZone": r.get("recurrenceTimeZone") or start.zone_name,
                  "numberOfOccurrences": count},
    }


def _rule(recurrence: dict[str, Any], dtstart: datetime, horizon: datetime) -> rrule:
    p, r = recurrence["pattern"], recurrence["range"]
    freq = {"daily": DAILY, "weekly": WEEKLY, "absoluteMonthly": MONTHLY, "relativeMonthly": MONTHLY,
            "absoluteYearly": YEARLY, "relativeYearly": YEARLY}[p["type"]]
    kwargs: dict[str, Any] = {"dtstart": dtstart, "interval": p["interval"], "wkst": DAYS.index(p["firstDayOfWeek"])}
    weekdays = [weekday(DAYS.index(d)) for d in p["daysOfWeek"]]
    if p["type"] == "weekly":
        kwargs["byweekday"] = weekdays
    elif p["type"].startswith("absolute"):
        kwargs["bymonthday"] = p["dayOfMonth"]
    else:
        kwargs["byweekday"] = weekdays
        kwargs["bysetpos"] = INDEX[p["index"]]
    if p["type"].endswith("Yearly"):
        kwargs["bymonth"] = p["month"]
    if r["type"] == "numbered":
        kwargs["count"] = r["numberOfOccurrences"]
    elif r["type"] == "endDate":
        kwargs["until"] = datetime.combine(date.fromisoformat(r["endDate"]), datetime.max.time())
    else:
        kwargs["until"] = horizon
    return rrule(freq, **kwargs)


def starts(recurrence: dict[str, Any], start: When, horizon_days: int) -> list[datetime]:
    """Every occurrence start (aware, in the series zone), the first being the series start.

    Graph counts the series start as an occurrence only if it fits the pattern; like Outlook,
    the emulator starts the series on the first date that fits (at or after the start)."""
    tz = start.moment.tzinfo
    local = start.moment.replace(tzinfo=None)
    horizon = local + timedelta(days=horizon_days)
    out: list[datetime] = []
    for moment in _rule(recurrence, local, horizon):
        if moment > horizon or len(out) >= MAX_OCCURRENCES:
            break
        out.append(moment.replace(tzinfo=tz))
    return out
