"""When an activity happens: a timed span (UTC instants + the IANA zone it was entered in) or an
all-day span (dates, end exclusive). All-day items are never turned into UTC midnights."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from calsync.crm.errors import Invalid

UTC = dt.timezone.utc
LONG_SPAN = dt.timedelta(days=7)
_EARLIEST_OFFSET = dt.timedelta(hours=14)  # UTC+14: where a date starts first
_LATEST_OFFSET = dt.timedelta(hours=12)  # UTC-12: where a date ends last
MIN_YEAR, MAX_YEAR = 1900, 2999  # far enough for any calendar; keeps offsets from overflowing
# The longest one activity may be (docs/security.md): a timed item up to 366 days, an all-day one
# (a sabbatical, a parental leave) up to 5 years. Longer spans are input mistakes, and each would
# sit in every calendar range query and every sync window for its whole length.
MAX_TIMED_SPAN = dt.timedelta(days=366)
MAX_ALL_DAY_DAYS = 5 * 366


def _check_year(year: int, value: str, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"{field}: '{value}' is out of range: use a year between {MIN_YEAR} and {MAX_YEAR}", field=field)


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called `name`, or a 422 that says what a valid name looks like. Only names
    of the zone database count (not files such as 'localtime' or 'posixrules' that ZoneInfo reads)."""
    if not is_valid_zone(name):
        raise Invalid(f"{field}: '{name}' is not an IANA time zone name such as 'Europe/Berlin'", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{field}: '{name}' is not an IANA time zone name such as 'Europe/Berlin'", field=field) from None


def zone_names() -> list[str]:
    """Every IANA zone name `zone` accepts, sorted (the time-zone pickers offer these)."""
    return sorted(_zone_names())


def is_valid_zone(name: str) -> bool:
    return name in _zone_names()


_ZONES: set[str] | None = None
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


def _zone_names() -> set[str]:
    global _ZONES
    if _ZONES is None:
        # The zone folder also holds files that are no zone's name: the machine's own setting
        # ('localtime'), tzcode's 'posixrules', the placeholder 'Factory', and copies of the
        # whole database under posix/ and right/.
        _ZONES = {name for name in available_timezones()
                  if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))} | {"UTC"}
    return _ZONES


@dataclass(frozen=True)
class Timing:
    """Exactly one of (start_at, end_at, timezone) or (start_date, end_date) is set."""

    all_day: bool
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    timezone: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    @staticmethod
    def timed(start: dt.datetime, end: dt.datetime, timezone: str) -> "Timing":
        zone(timezone)
        if start.tzinfo is None or end.tzinfo is None:
            raise Invalid("start and end need a UTC offset or a time zone", field="start")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end < start:
            raise Invalid("end must not be before start", field="end")
        if end - start > MAX_TIMED_SPAN:
            raise Invalid(f"end: a timed activity lasts at most {MAX_TIMED_SPAN.days} days; "
                          "make it all-day, or split it", field="end")
        return Timing(all_day=False, start_at=start, end_at=end, timezone=timezone)

    @staticmethod
    def day_span(start: dt.date, end: dt.date | None = None) -> "Timing":
        end = end or start + dt.timedelta(days=1)
        if end <= start:
            raise Invalid("an all-day end date is exclusive and must be after the start date", field="end")
        if (end - start).days > MAX_ALL_DAY_DAYS:
            raise Invalid(f"end: an all-day activity lasts at most {MAX_ALL_DAY_DAYS} days (5 years); split it",
                          field="end")
        return Timing(all_day=True, start_date=start, end_date=end)

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        """UTC bounds that contain the item wherever on Earth it is seen (for range queries)."""
        if not self.all_day:
            assert self.start_at and self.end_at
            return self.start_at, self.end_at
        assert self.start_date and self.end_date
        start = dt.datetime.combine(self.start_date, dt.time(), UTC) - _EARLIEST_OFFSET
        end = dt.datetime.combine(self.end_date, dt.time(), UTC) + _LATEST_OFFSET
        return start, end

    def is_long(self) -> bool:
        start, end = self.span()
        return end - start > LONG_SPAN

    def has_ended(self, now: dt.datetime, viewer_zone: str = "UTC") -> bool:
        """True once the item is over; all-day items end at midnight in the viewer's zone."""
        if not self.all_day:
            assert self.end_at
            return self.end_at <= now
        assert self.end_date
        return self.end_date <= now.astimezone(zone(viewer_zone)).date()


def parse_instant(value: str, default_zone: str, field: str) -> dt.datetime:
    """An ISO 8601 date-time; without an offset it is read in `default_zone`."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        raise Invalid(f"{field}: '{value}' is not an ISO 8601 date-time such as 2026-12-01T09:30:00+01:00", field=field) from None
    _check_year(parsed.year, value, field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(default_zone))
    return parsed


def parse_date(value: str, field: str) -> dt.date:
    try:
        text = value.strip()
        if len(text) != 10:
            raise ValueError(text)
        parsed = dt.date.fromisoformat(text)
    except (ValueError, AttributeError, TypeError):
        raise Invalid(f"{field}: '{value}' is not a date such as 2026-12-01 (all-day items take dates, not times)", field=field) from None
    _check_year(parsed.year, value, field)
    return parsed


def local_iso(instant: dt.datetime, timezone: str) -> str:
    """An instant written in its own zone, with the offset (what a person reads)."""
    return instant.astimezone(ZoneInfo(timezone)).isoformat()
