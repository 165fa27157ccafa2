"""Google's Event JSON ⇄ the neutral Event. Only the fields calsync maps are read or written;
everything else a Google event holds is left alone (writes are PATCHes of these fields).

- timed: `dateTime` (RFC 3339) + `timeZone` (IANA); all-day: `date`, end exclusive, no zone;
- `visibility` private/confidential ⇄ privacy; default/public ⇄ public;
- `transparency` transparent ⇄ not busy;
- our activity id in `extendedProperties.private`;
- attendees (e-mail, name, response, organizer); `hangoutLink`/`conferenceData` are read only;
- instances of a series: `recurringEventId` (the series) and `originalStartTime` (the occurrence).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.sync.model import Event, EventAttendee, EventKey

ACTIVITY_KEY = "calsyncActivityId"  # key of our id in extendedProperties.private (≤ 44 characters)
UTC = dt.timezone.utc

_FROM_RESPONSE = {"needsAction": "needs_action", "accepted": "accepted", "declined": "declined",
                  "tentative": "tentative"}
_TO_RESPONSE = {v: k for k, v in _FROM_RESPONSE.items()}


def event_id_for(activity_uuid: str) -> str:
    """The client-chosen Google id of the event for an activity: the UUID's 16 bytes in base32hex
    (lowercase a–v and 0–9, 26 characters), so a create repeated after a crash answers 409."""
    raw = uuid.UUID(activity_uuid).bytes
    return base64.b32hexencode(raw).decode().rstrip("=").lower()


def parse_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def recurrence_id(original: dict[str, Any]) -> str:
    """The occurrence's name from `originalStartTime`: its UTC start, or its date (all-day)."""
    if original.get("dateTime"):
        return parse_instant(original["dateTime"]).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return dt.date.fromisoformat(original["date"]).strftime("%Y%m%d")


def is_instance(resource: dict[str, Any]) -> bool:
    return bool(resource.get("recurringEventId"))


def key_of(calendar_id: str, resource: dict[str, Any]) -> EventKey:
    """The neutral key: an instance is (series, occurrence), anything else (id, "")."""
    if is_instance(resource) and resource.get("originalStartTime"):
        return EventKey(calendar_id, resource["recurringEventId"], recurrence_id(resource["originalStartTime"]))
    return EventKey(calendar_id, resource["id"], "")


def _conference_url(resource: dict[str, Any]) -> str:
    if resource.get("hangoutLink"):
        return str(resource["hangoutLink"])
    for entry in (resource.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return ""


def to_event(calendar_id: str, resource: dict[str, Any], calendar_zone: str | None = None) -> Event:
    """A confirmed or tentative Google event (or instance) as a neutral Event."""
    key = key_of(calendar_id, resource)
    start, end = resource.get("start") or {}, resource.get("end") or {}
    private = (resource.get("extendedProperties") or {}).get("private") or {}
    event = Event(
        calendar_id=calendar_id,
        event_id=key.event_id,
        recurrence_id=key.recurrence_id,
        etag=resource.get("etag"),
        updated=parse_instant(resource["updated"]) if resource.get("updated") else None,
        uid=resource.get("iCalUID"),
        activity_uuid=private.get(ACTIVITY_KEY),
        summary=resource.get("summary") or "",
        description=resource.get("description") or "",
        location=resource.get("location") or "",
        busy=resource.get("transparency") != "transparent",
        privacy=resource.get("visibility") if resource.get("visibility") in ("private", "confidential") else "public",
        status="tentative" if resource.get("status") == "tentative" else "confirmed",
        attendees=[
            EventAttendee(email=a.get("email", ""), name=a.get("displayName") or "",
                          status=_FROM_RESPONSE.get(a.get("responseStatus", ""), "needs_action"),
                          organizer=bool(a.get("organizer")))
            for a in resource.get("attendees") or [] if a.get("email")
        ],
        conference_url=_conference_url(resource),
        series_id=resource["recurringEventId"] if is_instance(resource) else None,
        raw=resource,
    )
    if "date" in start and start.get("date"):
        event.all_day = True
        event.start_date = dt.date.fromisoformat(start["date"])
        event.end_date = dt.date.fromisoformat(end.get("date") or start["date"])
    else:
        event.start = parse_instant(start["dateTime"])
        event.end = parse_instant(end.get("dateTime") or start["dateTime"])
        event.timezone = start.get("timeZone") or calendar_zone
    return event


def _when(instant: dt.datetime, zone: str | None) -> dict[str, Any]:
    if zone:
        try:
            return {"dateTime": instant.astimezone(ZoneInfo(zone)).isoformat(), "timeZone": zone, "date": None}
        except ZoneInfoNotFoundError:
            pass
    return {"dateTime": instant.astimezone(UTC).isoformat().replace("+00:00", "Z"), "timeZone": "UTC", "date": None}


def to_body(event: Event, *, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mapped fields as a PATCH body (also valid for insert, once the nulls are dropped).

    The start/end of the other kind is sent as null so a timed event can become all-day and back;
    `visibility` stays `public` when the event said so explicitly (both mean public to calsync)."""
    body: dict[str, Any] = {
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "transparency": "opaque" if event.busy else "transparent",
        "status": "tentative" if event.status == "tentative" else "confirmed",
        "attendees": [
            {"email": a.email, **({"displayName": a.name} if a.name else {}),
             "responseStatus": _TO_RESPONSE.get(a.status, "needsAction")}
            for a in event.attendees
        ],
    }
    if event.is_private:
        body["visibility"] = event.privacy
    else:
        body["visibility"] = "public" if (previous or {}).get("visibility") == "public" else "default"
    if event.all_day:
        assert event.start_date is not None and event.end_date is not None
        body["start"] = {"date": event.start_date.isoformat(), "dateTime": None, "timeZone": None}
        body["end"] = {"date": event.end_date.isoformat(), "dateTime": None, "timeZone": None}
    else:
        assert event.start is not None and event.end is not None
        body["start"] = _when(event.start, event.timezone)
        body["end"] = _when(event.end, event.timezone)
    if event.activity_uuid:
        body["extendedProperties"] = {"private": {ACTIVITY_KEY: event.activity_uuid}}
    return body


def without_nulls(value: Any) -> Any:
    """An insert body: the PATCH body without its explicit nulls."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
