"""RFC 3339 instants and Calendar's EventDateTime ({date} or {dateTime, timeZone})."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.emulators.google.errors import bad_request

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_instant(moment: datetime) -> str:
    """Google's `updated`/`created` spelling: UTC with milliseconds and Z."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_query_instant(value: str, name: str) -> datetime:
    """timeMin/timeMax/updatedMin: RFC 3339 with a mandatory offset, else 400."""
    if not _RFC3339.match(value):
        raise bad_request(f"Bad Request: {name} must be an RFC 3339 timestamp with a time zone offset, "
                          f"e.g. 2026-11-30T10:00:00Z", location=name)
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def zone(name: str, location: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"Invalid time zone definition: {name!r}.", location=location) from None


@dataclass(frozen=True)
class When:
    """One parsed EventDateTime: an all-day date, or an aware instant plus its zone name."""

    all_day: bool
    day: date | None = None
    moment: datetime | None = None   # aware, in `tz` when a zone is named
    tz: str | None = None

    def instant(self, default_tz: str = "UTC") -> datetime:
        """The UTC instant this starts at (all-day dates start at midnight in the calendar zone)."""
        if self.all_day:
            assert self.day is not None
            return datetime(self.day.year, self.day.month, self.day.day, tzinfo=ZoneInfo(default_tz)).astimezone(timezone.utc)
        assert self.moment is not None
        return self.moment.astimezone(timezone.utc)

    def shifted(self, delta: timedelta) -> "When":
        if self.all_day:
            assert self.day is not None
            return When(True, day=self.day + timedelta(days=delta.days))
        assert self.moment is not None
        return When(False, moment=self.moment + delta, tz=self.tz)

    def to_json(self) -> dict[str, str]:
        if self.all_day:
            assert self.day is not None
            return {"date": self.day.isoformat()}
        assert self.moment is not None
        text = self.moment.isoformat()
        out = {"dateTime": text[:-6] + "Z" if text.endswith("+00:00") else text}
        if self.tz:
            out["timeZone"] = self.tz
        return out


def parse_when(value: Any, field: str) -> When:
    """Validates an EventDateTime the way Calendar does (400 with the field named)."""
    if not isinstance(value, dict):
        raise bad_request(f"Missing {field} time.", location=field, location_type="other")
    has_date, has_dt = value.get("date") is not None, value.get("dateTime") is not None
    if has_date and has_dt:
        raise bad_request(f"Invalid {field} time: give either date or dateTime, not both.", location=field)
    tz_name = value.get("timeZone")
    if tz_name is not None and not isinstance(tz_name, str):
        raise bad_request(f"Invalid time zone definition for {field} time.", location=field)
    if has_date:
        text = value["date"]
        if not isinstance(text, str) or not _DATE.match(text):
            raise bad_request(f"Invalid {field} date {text!r}: expected yyyy-mm-dd.", location=field)
        try:
            return When(True, day=date.fromisoformat(text))
        except ValueError:
            raise bad_request(f"Invalid {field} date {text!r}.", location=field) from None
    if not has_dt:
        raise bad_request(f"Missing {field} time.", location=field)
    text = value["dateTime"]
    if not isinstance(text, str):
        raise bad_request(f"Invalid {field} time.", location=field)
    tzinfo = zone(tz_name, field) if tz_name else None
    try:
        if _RFC3339.match(text):
            moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            moment = moment.astimezone(tzinfo) if tzinfo else moment
        elif _LOCAL.match(text) and tzinfo is not None:
            moment = datetime.fromisoformat(text).replace(tzinfo=tzinfo)
        else:
            raise bad_request(f"Invalid {field} time {text!r}: an RFC 3339 time needs an offset unless timeZone is given.",
                              location=field)
    except ValueError:
        raise bad_request(f"Invalid {field} time {text!r}.", location=field) from None
    return When(False, moment=moment, tz=tz_name)
