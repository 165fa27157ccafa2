"""Graph's time spellings: `dateTimeTimeZone` (local time + zone name, 7-digit fractions, no
offset), Edm.DateTimeOffset instants, query-string instants, and Windows or IANA zone names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsync.emulators.microsoft.errors import GraphError, bad_request

_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,7}))?$")
_QUERY = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:\.\d{1,7})?)(Z|[+-]\d{2}:\d{2})?$", re.I)
_UTC_NAMES = {"utc", "etc/utc", "gmt", "etc/gmt", "z", "coordinated universal time", "tzone://microsoft/utc"}


def zone(name: Any) -> ZoneInfo:
    """A Windows ("Pacific Standard Time") or IANA ("America/Los_Angeles") zone name."""
    if isinstance(name, str):
        if name.strip().lower() in _UTC_NAMES:
            return ZoneInfo("UTC")
        iana = WINDOWS_TO_OLSON.get(name.strip())
        try:
            return ZoneInfo(iana or name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise GraphError(400, "TimeZoneNotSupportedException",
                     f"A valid TimeZone value must be specified. The following TimeZone value is not supported: "
                     f"'{name}'.")


def _local(text: str) -> datetime:
    match = _LOCAL.match(text)
    if not match:
        raise ValueError(text)
    base = match.group(1)
    if len(base) == 16:
        base += ":00"
    fraction = (match.group(2) or "0").ljust(7, "0")
    return datetime.fromisoformat(base) + timedelta(microseconds=int(fraction) // 10)


@dataclass(frozen=True)
class When:
    """A parsed dateTimeTimeZone: the aware instant and the zone name the client wrote."""

    moment: datetime      # aware, in the named zone
    zone_name: str

    @property
    def utc(self) -> datetime:
        return self.moment.astimezone(timezone.utc)


def parse_when(value: Any, field: str) -> When:
    """start/end as Graph takes them; 400 with the field named when malformed."""
    if not isinstance(value, dict) or set(value) - {"dateTime", "timeZone", "@odata.type"}:
        raise bad_request(f"{field} must be a dateTimeTimeZone object: {{\"dateTime\": "
                          f"\"2027-03-01T10:00:00.0000000\", \"timeZone\": \"UTC\"}}.")
    text, name = value.get("dateTime"), value.get("timeZone") or "UTC"
    if not isinstance(text, str):
        raise bad_request(f"{field}.dateTime is required.")
    tz = zone(name)
    try:
        local = _local(text)
    except ValueError:
        raise bad_request(f"{field}.dateTime {text!r} is not a local date and time such as "
                          f"2027-03-01T10:00:00.0000000 (the zone goes in {field}.timeZone, not an offset).") from None
    return When(local.replace(tzinfo=tz), name)


def format_local(moment: datetime) -> str:
    """`2016-12-10T01:00:00.0000000`: no offset, seven fractional digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond * 10:07d}"


def render_when(moment: datetime, zone_name: str) -> dict[str, str]:
    return {"dateTime": format_local(moment.astimezone(zone(zone_name))), "timeZone": zone_name}


def render_floating(local: datetime, zone_name: str) -> dict[str, str]:
    """All-day times float: midnight stays midnight in whatever zone the reader asks for."""
    return {"dateTime": format_local(local.replace(tzinfo=None)), "timeZone": zone_name}


def format_offset(moment: datetime) -> str:
    """Edm.DateTimeOffset as Graph writes created/lastModifiedDateTime: UTC, 7 digits, Z."""
    return format_local(moment.astimezone(timezone.utc)) + "Z"


def format_plain(moment: datetime) -> str:
    """originalStart and subscription expiry: `2017-08-29T04:00:00Z`."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def parse_query_instant(value: str | None, name: str) -> datetime:
    """startDateTime/endDateTime: ISO 8601; without an offset the time is UTC."""
    if value is None:
        raise bad_request("This request requires a time window specified by the query string parameters "
                          "StartDateTime and EndDateTime.", "ErrorInvalidParameter")
    match = _QUERY.match(value.strip())
    if not match:
        raise bad_request(f"The parameter '{name}' has an invalid value {value!r}: use ISO 8601 such as "
                          f"2027-03-01T00:00:00Z.", "ErrorInvalidParameter")
    local = _local(match.group(1))
    offset = (match.group(2) or "Z").upper().replace("Z", "+00:00")
    return local.replace(tzinfo=datetime.fromisoformat("2000-01-01T00:00:00" + offset).tzinfo).astimezone(timezone.utc)


def parse_offset_instant(value: Any, field: str) -> datetime:
    """expirationDateTime and other Edm.DateTimeOffset inputs."""
    if isinstance(value, str):
        match = _QUERY.match(value.strip())
        if match:
            local = _local(match.group(1))
            offset = (match.group(2) or "Z").upper().replace("Z", "+00:00")
            tz = datetime.fromisoformat("2000-01-01T00:00:00" + offset).tzinfo
            return local.replace(tzinfo=tz).astimezone(timezone.utc)
    raise bad_request(f"{field} must be a date and time with an offset, such as 2027-03-01T10:00:00Z.")
