"""Every time the pages show, in one format: the viewer's zone and language.

All templates (through the `when`, `instant` and `day` Jinja filters registered in
`rendering`) and the pages' scripts (which get the same parts from `js_format`) go through
`format_instant` / `format_day`. Day and month names come from Babel's locale data (CLDR); the
order of the parts is one pattern per language, shared with static/js/common.js:

    en  "Tue 01 Dec", "Tue 01 Dec 2027", "Tue 01 Dec, 08:30"
    ja  "12月1日(火)", "2027年12月1日(火)", "12月1日(火) 08:30"
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale

from calsync.crm.schemas import ActivityOut
from calsync.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, translations

# {wd} weekday, {dd} two-digit day, {d} day, {mon} month name, {m} month number, {y} year,
# {day} the whole day, {time} HH:MM.
_PATTERNS = {
    "en": {"day": "{wd} {dd} {mon}", "day_year": "{wd} {dd} {mon} {y}", "instant": "{day}, {time}"},
    "ja": {"day": "{m}月{d}日({wd})", "day_year": "{y}年{m}月{d}日({wd})", "instant": "{day} {time}"},
}
_ALL_DAY = N_("all day")


def _lang(language: str | None) -> str:
    return language if language in LANGUAGES and language in _PATTERNS else DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
def _names(language: str) -> tuple[list[str], list[str]]:
    """Abbreviated weekday (Monday first) and month names in `language`, from CLDR."""
    locale = Locale.parse(language)
    return ([locale.days["format"]["abbreviated"][i] for i in range(7)],
            [locale.months["format"]["abbreviated"][i] for i in range(1, 13)])


def format_day(day: dt.date, zone: str, language: str | None = None) -> str:
    """A date as "Tue 01 Dec" (ja "12月1日(火)"), with the year when it is not the viewer's
    current year."""
    lang = _lang(language)
    weekdays, months = _names(lang)
    key = "day" if day.year == dt.datetime.now(ZoneInfo(zone)).year else "day_year"
    return _PATTERNS[lang][key].format(wd=weekdays[day.weekday()], dd=f"{day.day:02d}", d=day.day,
                                       mon=months[day.month - 1], m=day.month, y=day.year)


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
    return _PATTERNS[_lang(language)]["instant"].format(day=format_day(moment.date(), zone, language), time=_clock(moment))


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
        return text + " · " + translations(_lang(language)).gettext(_ALL_DAY)
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
    weekdays, months = _names(lang)
    return {"zone": zone, "weekdays": weekdays, "months": months, "patterns": _PATTERNS[lang],
            "this_year": dt.datetime.now(ZoneInfo(zone)).year}
