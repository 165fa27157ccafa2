"""Graph's event JSON ⇄ the neutral Event. Only the fields calsync maps are read or written;
writes are PATCHes of these fields, so everything else an Outlook event holds survives.

- times: read in UTC (every request prefers `outlook.timezone="UTC"`), `dateTime` without
  offset and with 7-digit fractions; the event's own zone is `originalStartTimeZone`, a Windows
  name (mapped to IANA with the full table icalendar ships) or an IANA name. Written in the
  event's zone: its Windows name where one maps back to the same IANA zone, else the IANA name;
- all-day (`isAllDay`): midnight to midnight, at least a day apart, in one zone; written in UTC
  and read (in UTC) as floating dates, end exclusive;
- `sensitivity` normal ⇄ public, private (and `personal`) ⇄ private, confidential ⇄ confidential;
- `showAs` free ⇄ not busy; busy/tentative/oof/workingElsewhere are busy (tentative also reads as
  status tentative); an event that stays busy keeps its oof/workingElsewhere;
- body: written as text; read as text, HTML bodies (Outlook's, with `<head>`, `<style>`,
  images) turned into plain text by inscriptis;
- our activity id in a single-value extended property (and the create's `transactionId`,
  `calsync-<uuid>`, which Graph echoes on every listing: delta pages cannot expand properties);
- occurrences and exceptions of a series: `seriesMasterId` is the series, `originalStart`
  names the occurrence (read-only for calsync).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from calsync.sync.model import Event, EventAttendee, EventKey

UTC = dt.timezone.utc
PROPERTY_NAME = "calsyncActivityId"
# PS_PUBLIC_STRINGS, the property set MAPI keeps for named properties of any application
PROPERTY_ID = "String {00020329-0000-0000-C000-000000000046} Name " + PROPERTY_NAME
TRANSACTION_PREFIX = "calsync-"

_IANA_TO_WINDOWS: dict[str, str] = {}
for _windows, _iana in WINDOWS_TO_OLSON.items():
    _IANA_TO_WINDOWS.setdefault(_iana, _windows)
_INSTANT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")
_UTC_NAMES = {"utc", "tzone://microsoft/utc", "coordinated universal time", "etc/utc", "gmt"}

_FROM_RESPONSE = {"none": "needs_action", "notResponded": "needs_action", "accepted": "accepted",
                  "declined": "declined", "tentativelyAccepted": "tentative", "organizer": "accepted"}
_TO_RESPONSE = {"needs_action": "none", "accepted": "accepted", "declined": "declined",
                "tentative": "tentativelyAccepted"}
_HTML = ParserConfig(css=CSS_PROFILES["strict"], display_images=False, display_links=False)


def transaction_id(activity_uuid: str) -> str:
    """The create's `transactionId`: a retried create returns the first event, no duplicate."""
    return TRANSACTION_PREFIX + str(uuid.UUID(activity_uuid))


def iana_zone(name: str | None) -> str | None:
    """An IANA zone for a Windows or IANA name; None when unknown (never a silent UTC)."""
    if not name:
        return None
    if name.strip().lower() in _UTC_NAMES:
        return "UTC"
    if name in WINDOWS_TO_OLSON:
        return WINDOWS_TO_OLSON[name]
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        return None


def graph_zone(iana: str) -> str:
    """The zone name to write: Windows where it maps back to the same IANA zone, else IANA."""
    windows = _IANA_TO_WINDOWS.get(iana)
    return windows if windows and WINDOWS_TO_OLSON.get(windows) == iana else iana


def parse_plain(value: str) -> dt.datetime:
    """`2027-03-01T10:00:00.0000000` (UTC, as preferred) or with a Z/offset, to an aware datetime."""
    match = _INSTANT.match(value.strip())
    if match is None:
        raise ValueError(f"not a Graph date-time: {value!r}")
    text = match.group(1) + (f".{match.group(2)[:6].ljust(6, '0')}" if match.group(2) else "")
    offset = match.group(3) or ""
    parsed = dt.datetime.fromisoformat(text + ("+00:00" if offset == "Z" else offset))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def html_to_text(markup: str) -> str:
    """Outlook's HTML body as plain text: no head, style, script, images or tags."""
    return get_text(markup, _HTML).strip("\n")


def body_text(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        return html_to_text(content)
    return content


def recurrence_id(resource: dict[str, Any]) -> str:
    """The occurrence's name from `originalStart`: its UTC start, or its date (all-day)."""
    original = parse_plain(str(resource["originalStart"]))
    if resource.get("isAllDay"):
        return original.strftime("%Y%m%d")
    return original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def is_instance(resource: dict[str, Any]) -> bool:
    return resource.get("type") in ("occurrence", "exception") and bool(resource.get("seriesMasterId"))


def key_of(calendar_id: str, resource: dict[str, Any]) -> EventKey:
    if is_instance(resource) and resource.get("originalStart"):
        return EventKey(calendar_id, str(resource["seriesMasterId"]), recurrence_id(resource))
    return EventKey(calendar_id, str(resource["id"]), "")


def activity_id(resource: dict[str, Any]) -> str | None:
    """Our id: the extended property when expanded, else the create's transactionId."""
    for prop in resource.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == PROPERTY_ID.lower() and prop.get("value"):
            return str(prop["value"])
    tx = str(resource.get("transactionId") or "")
    if tx.startswith(TRANSACTION_PREFIX):
        return tx[len(TRANSACTION_PREFIX):]
    return None


def _privacy(sensitivity: str | None) -> str:
    if sensitivity in ("private", "personal"):
        return "private"
    return "confidential" if sensitivity == "confidential" else "public"


def to_event(calendar_id: str, resource: dict[str, Any]) -> Event:
    key = key_of(calendar_id, resource)
    show_as = str(resource.get("showAs") or "busy")
    meeting = resource.get("onlineMeeting") or {}
    event = Event(
        calendar_id=calendar_id,
        event_id=key.event_id,
        recurrence_id=key.recurrence_id,
        etag=resource.get("@odata.etag"),
        updated=parse_plain(resource["lastModifiedDateTime"]) if resource.get("lastModifiedDateTime") else None,
        uid=resource.get("iCalUId"),
        activity_uuid=activity_id(resource),
        summary=resource.get("subject") or "",
        description=body_text(resource.get("body")),
        location=((resource.get("location") or {}).get("displayName") or ""),
        busy=show_as not in ("free", "unknown"),
        privacy=_privacy(resource.get("sensitivity")),  # type: ignore[arg-type]
        status="tentative" if show_as == "tentative" else "confirmed",
        attendees=[
            EventAttendee(email=str(a["emailAddress"]["address"]), name=a["emailAddress"].get("name") or "",
                          status=_FROM_RESPONSE.get(str((a.get("status") or {}).get("response", "none")), "needs_action"))
            for a in resource.get("attendees") or [] if (a.get("emailAddress") or {}).get("address")
        ],
        conference_url=str(meeting.get("joinUrl") or resource.get("onlineMeetingUrl") or ""),
        series_id=str(resource["seriesMasterId"]) if is_instance(resource) else None,
        raw=resource,
    )
    start, end = resource["start"], resource["end"]
    if resource.get("isAllDay"):
        event.all_day = True
        event.start_date = parse_plain(start["dateTime"]).date()
        event.end_date = parse_plain(end["dateTime"]).date()
    else:
        zone = ZoneInfo("UTC") if iana_zone(start.get("timeZone")) in (None, "UTC") else ZoneInfo(str(iana_zone(start["timeZone"])))
        event.start = _aware(start["dateTime"], zone)
        event.end = _aware(end["dateTime"], zone)
        event.timezone = iana_zone(resource.get("originalStartTimeZone")) or "UTC"
    return event


def _aware(value: str, zone: ZoneInfo) -> dt.datetime:
    match = _INSTANT.match(value.strip())
    parsed = parse_plain(value)
    if match is not None and match.group(3):
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=zone).astimezone(UTC)


def _plain(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _when(instant: dt.datetime, zone: str | None) -> dict[str, str]:
    if zone and zone != "UTC":
        try:
            return {"dateTime": _plain(instant.astimezone(ZoneInfo(zone))), "timeZone": graph_zone(zone)}
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return {"dateTime": _plain(instant.astimezone(UTC)), "timeZone": "UTC"}


def show_as(event: Event, previous: dict[str, Any] | None) -> str:
    if not event.busy:
        return "free"
    if event.status == "tentative":
        return "tentative"
    kept = (previous or {}).get("showAs")
    return str(kept) if kept in ("oof", "workingElsewhere") else "busy"


def to_body(event: Event, *, previous: dict[str, Any] | None = None, attendees: bool = False) -> dict[str, Any]:
    """The mapped fields as a PATCH body (also a create body). Attendees only when `attendees`
    (Graph mails them on any write that carries them)."""
    body: dict[str, Any] = {
        "subject": event.summary,
        "body": {"contentType": "text", "content": event.description},
        "location": {"displayName": event.location},
        "sensitivity": {"public": "normal"}.get(event.privacy, event.privacy),
        "showAs": show_as(event, previous),
        "isAllDay": event.all_day,
    }
    if (previous or {}).get("sensitivity") == "personal" and event.privacy == "private":
        body["sensitivity"] = "personal"
    if event.all_day:
        assert event.start_date is not None and event.end_date is not None
        body["start"] = {"dateTime": f"{event.start_date.isoformat()}T00:00:00.0000000", "timeZone": "UTC"}
        body["end"] = {"dateTime": f"{event.end_date.isoformat()}T00:00:00.0000000", "timeZone": "UTC"}
    else:
        assert event.start is not None and event.end is not None
        body["start"] = _when(event.start, event.timezone)
        body["end"] = _when(event.end, event.timezone)
    if attendees:
        body["attendees"] = [
            {"emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})}, "type": "required"}
            for a in event.attendees if not a.organizer
        ]
    return body


def create_body(event: Event, *, attendees: bool) -> dict[str, Any]:
    """A create: the mapped fields, our id in the extended property, the transactionId."""
    assert event.activity_uuid
    return {**to_body(event, attendees=attendees), "transactionId": transaction_id(event.activity_uuid),
            "singleValueExtendedProperties": [{"id": PROPERTY_ID, "value": event.activity_uuid}]}
