"""Recurring masters: RRULE/EXRULE/RDATE/EXDATE expansion into instances with Google's ids.

An instance of master `m` that starts at UTC instant T has the id `m_YYYYMMDDTHHMMSSZ` (all-day:
`m_YYYYMMDD`), `recurringEventId = m` and `originalStartTime` = its unmoved start.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from calsync.emulators.google.errors import bad_request
from calsync.emulators.google.times import When, parse_when

_PREFIXES = ("RRULE", "EXRULE", "RDATE", "EXDATE")
MAX_INSTANCES = 5000


def check_lines(lines: Any) -> list[str]:
    """The `recurrence` field: a list of RRULE/EXRULE/RDATE/EXDATE lines, no DTSTART/DTEND."""
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise bad_request("Invalid recurrence rule: recurrence must be a list of strings.", location="recurrence")
    for line in lines:
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name not in _PREFIXES:
            raise bad_request(f"Invalid recurrence rule {line!r}: only RRULE, EXRULE, RDATE and EXDATE lines are "
                              f"allowed (start and end come from the event's start and end).", location="recurrence")
    return lines


def _dtstart(start: When) -> datetime:
    if start.all_day:
        assert start.day is not None
        return datetime(start.day.year, start.day.month, start.day.day)
    assert start.moment is not None and start.tz
    return start.moment.astimezone(ZoneInfo(start.tz))


def build_set(resource: dict[str, Any]) -> rruleset:
    start = parse_when(resource.get("start"), "start")
    try:
        result = rrulestr("\n".join(resource.get("recurrence") or []), dtstart=_dtstart(start), forceset=True)
    except (ValueError, TypeError) as exc:
        raise bad_request(f"Invalid recurrence rule: {exc}", location="recurrence") from None
    assert isinstance(result, rruleset)
    return result


def validate_master(resource: dict[str, Any]) -> None:
    """A master needs a start zone (for timed events) and a rule dateutil can expand."""
    start, end = parse_when(resource.get("start"), "start"), parse_when(resource.get("end"), "end")
    if not start.all_day and not start.tz:
        raise bad_request("Missing time zone definition for start time.", location="start.timeZone")
    if not end.all_day and not end.tz:
        raise bad_request("Missing time zone definition for end time.", location="end.timeZone")
    rules = build_set(resource)
    try:
        next(iter(rules), None)
    except (ValueError, TypeError) as exc:
        raise bad_request(f"Invalid recurrence rule: {exc}", location="recurrence") from None


def instance_suffix(when: When) -> str:
    if when.all_day:
        assert when.day is not None
        return when.day.strftime("%Y%m%d")
    assert when.moment is not None
    return when.moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _when_of(occurrence: datetime, start: When) -> When:
    if start.all_day:
        return When(True, day=occurrence.date())
    return When(False, moment=occurrence, tz=start.tz)


def occurrences(resource: dict[str, Any], until: datetime) -> list[When]:
    """Unmoved starts of every occurrence that begins before `until` (UTC), capped."""
    start = parse_when(resource.get("start"), "start")
    out: list[When] = []
    for occurrence in build_set(resource):
        when = _when_of(occurrence, start)
        begin = when.instant()
        if begin >= until or len(out) >= MAX_INSTANCES:
            break
        out.append(when)
    return out


def duration(resource: dict[str, Any]) -> timedelta:
    start, end = parse_when(resource.get("start"), "start"), parse_when(resource.get("end"), "end")
    if start.all_day:
        assert start.day is not None and end.day is not None
        return timedelta(days=(end.day - start.day).days)
    assert start.moment is not None and end.moment is not None
    return end.moment - start.moment


def generated_instance(master: dict[str, Any], when: When) -> dict[str, Any]:
    """The instance resource Google derives from the master for one unmoved occurrence."""
    out = {k: v for k, v in master.items() if k not in ("recurrence", "id")}
    out["id"] = f"{master['id']}_{instance_suffix(when)}"
    out["recurringEventId"] = master["id"]
    out["originalStartTime"] = when.to_json()
    out["start"] = when.to_json()
    out["end"] = when.shifted(duration(master)).to_json()
    return out


def find_occurrence(master: dict[str, Any], suffix: str) -> When | None:
    """The occurrence an instance id's suffix names, if the series has it."""
    start = parse_when(master.get("start"), "start")
    try:
        if start.all_day:
            day = datetime.strptime(suffix, "%Y%m%d")
            candidate = day
        else:
            utc = datetime.strptime(suffix.upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            assert start.tz
            candidate = utc.astimezone(ZoneInfo(start.tz))
    except ValueError:
        return None
    rules = build_set(master)
    for occurrence in rules.between(candidate - timedelta(seconds=1), candidate + timedelta(seconds=1), inc=True):
        if occurrence == candidate:
            return _when_of(occurrence, start)
    return None
