"""Every time the pages show, in one format: the viewer's zone and language.

All templates (through the `when`, `instant` and `day` Jinja filters registered in
`rendering`) and the settings page's script (which gets the same parts from `js_format`) go
through `format_instant` / `format_day`, so another language plugs in here alone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from calsync.crm.schemas import ActivityOut

_WEEKDAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
_MONTHS = {"en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")}
_ALL_DAY = {"en": "all day"}
DEFAULT_LANGUAGE = "en"


def _lang(language: str | None) -> str:
    return language if language in _WEEKDAYS else DEFAULT_LANGUAGE


def format_day(day: dt.date, zone: str, language: str | None = None) -> str:
    """A date as "Tue 01 Dec", with the year when it is not the viewer's current year."""
    lang = _lang(language)
    text = f"{_WEEKDAYS[lang][day.weekday()]} {day.day:02d} {_MONTHS[lang][day.month - 1]}"
    if day.year != dt.datetime.now(ZoneInfo(zone)).year:
        text += f" {day.year}"
    return text


def _clock(moment: dt.datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _aware(value: dt.datetime | str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)  # stored naive = UTC


def format_instant(value: dt.datetime | str | None, zone: str, language: str | None = None) -> str:
    """One moment (a run's start, a deletion) as "Tue 01 Dec, 08:30" in the viewer's zone."""
    if value is None or value == "":
        return ""
    moment = _aware(value).astimezone(ZoneInfo(zone))
    return f"{format_day(moment.date(), zone, language)}, {_clock(moment)}"


def local_day(item: ActivityOut, zone: str) -> dt.date:
    """The date the viewer files the activity under: all-day items by their own date (never
    shifted by a zone), timed ones by their start in the viewer's zone."""
    if item.all_day:
        return dt.date.fromisoformat(item.start[:10])
    return _aware(item.start).astimezone(ZoneInfo(zone)).date()


def format_when(item: ActivityOut, zone: str, language: str | None = None) -> str:
    """The activity's time as the viewer reads it: in the viewer's zone; all-day as dates."""
    if item.all_day:
        start = dt.date.fromisoformat(item.start[:10])
        last = dt.date.fromisoformat(item.end[:10]) - dt.timedelta(days=1)
        text = format_day(start, zone, language)
        if last > start:
            text += " – " + format_day(last, zone, language)
        return text + " · " + _ALL_DAY[_lang(language)]
    tz = ZoneInfo(zone)
    start_at = _aware(item.start).astimezone(tz)
    end_at = _aware(item.end).astimezone(tz)
    text = format_instant(start_at, zone, language)
    if end_at.date() == start_at.date():
        if end_at != start_at:
            text += "–" + _clock(end_at)
    else:
        text += " – " + format_instant(end_at, zone, language)
    return text


def js_format(zone: str, language: str | None = None) -> dict[str, object]:
    """What static/js/common.js needs to print times exactly as `format_instant` does."""
    lang = _lang(language)
    return {"zone": zone, "weekdays": list(_WEEKDAYS[lang]), "months": list(_MONTHS[lang]),
            "this_year": dt.datetime.now(ZoneInfo(zone)).year}
