"""What an event body may hold on create and PATCH: known properties, enums, times, the all-day rule.

PATCH is partial: each property given replaces the stored one whole (collections such as
attendees and categories are replaced, not merged). Unknown properties answer Graph's
RequestBodyRead 400; read-only properties are accepted and ignored, as Graph does.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from calsync.emulators.microsoft import recurrence
from calsync.emulators.microsoft.errors import bad_request, unknown_property
from calsync.emulators.microsoft.times import When, parse_when

ENUMS = {
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "showAs": ("unknown", "free", "tentative", "busy", "oof", "workingElsewhere"),
    "importance": ("low", "normal", "high"),
    "onlineMeetingProvider": ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"),
}
BOOLS = ("isAllDay", "isReminderOn", "responseRequested", "allowNewTimeProposals", "isOnlineMeeting",
         "hideAttendees", "isDraft")
WRITABLE = {"subject", "body", "start", "end", "location", "locations", "attendees", "categories",
            "reminderMinutesBeforeStart", "recurrence", "originalStartTimeZone", "originalEndTimeZone",
            *ENUMS, *BOOLS}
READ_ONLY = {"id", "@odata.etag", "@odata.type", "@odata.context", "changeKey", "createdDateTime",
             "lastModifiedDateTime", "iCalUId", "uid", "type", "seriesMasterId", "webLink", "organizer",
             "isOrganizer", "responseStatus", "bodyPreview", "hasAttachments", "isCancelled", "onlineMeetingUrl",
             "onlineMeeting", "originalStart", "cancelledOccurrences", "exceptionOccurrences", "occurrenceId",
             "calendar", "instances", "attachments", "extensions", "multiValueExtendedProperties"}
SPECIAL = {"transactionId", "singleValueExtendedProperties"}
LOCATION_KEYS = {"address", "coordinates", "displayName", "locationEmailAddress", "locationType", "locationUri",
                 "uniqueId", "uniqueIdType", "@odata.type"}
ATTENDEE_TYPES = ("required", "optional", "resource")


def check_keys(body: dict[str, Any]) -> None:
    for key in body:
        if key not in WRITABLE and key not in READ_ONLY and key not in SPECIAL:
            raise unknown_property(key)


def _email(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("address", ""), str):
        raise bad_request(f"{field} must be an emailAddress object {{\"address\": …, \"name\": …}}.")
    address = value.get("address") or ""
    if address and "@" not in address:
        raise bad_request(f"{field}.address {address!r} is not an e-mail address.")
    return {"name": str(value.get("name") or address), "address": address}


def _attendees(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise bad_request("attendees must be a list.")
    if len(value) > 500:
        raise bad_request("An event can have at most 500 attendees.")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"attendees[{i}] must be an object.")
        kind = item.get("type") or "required"
        if kind not in ATTENDEE_TYPES:
            raise bad_request(f"attendees[{i}].type must be required, optional or resource.")
        out.append({"type": kind, "emailAddress": _email(item.get("emailAddress"), f"attendees[{i}].emailAddress")})
    return out


def _location(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{field} must be a location object such as {{\"displayName\": \"Room 1\"}}.")
    for key in value:
        if key not in LOCATION_KEYS:
            raise unknown_property(key, "microsoft.graph.location")
    name = value.get("displayName", "")
    if not isinstance(name, str):
        raise bad_request(f"{field}.displayName must be a string.")
    return {k: v for k, v in value.items() if k != "@odata.type"}


def clean(body: dict[str, Any]) -> dict[str, Any]:
    """The writable properties of a body, type-checked (a PATCH body holds only some of them)."""
    check_keys(body)
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key not in WRITABLE:
            continue
        if key in ENUMS:
            if value not in ENUMS[key]:
                raise bad_request(f"Cannot convert the literal '{value}' to the expected type "
                                  f"'microsoft.graph.{key if key != 'showAs' else 'freeBusyStatus'}'.", "RequestBodyRead")
        elif key in BOOLS:
            if not isinstance(value, bool):
                raise bad_request(f"{key} must be true or false.", "RequestBodyRead")
        elif key == "subject":
            if value is not None and not isinstance(value, str):
                raise bad_request("subject must be a string.", "RequestBodyRead")
            value = value or ""
        elif key == "body":
            if not isinstance(value, dict) or value.get("contentType", "text") not in ("text", "html", "Text", "HTML") \
                    or not isinstance(value.get("content", ""), str):
                raise bad_request("body must be {\"contentType\": \"text\" | \"html\", \"content\": \"…\"}.")
            value = {"contentType": str(value.get("contentType", "text")).lower(), "content": value.get("content") or ""}
        elif key == "categories":
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                raise bad_request("categories must be a list of strings.")
        elif key == "reminderMinutesBeforeStart":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise bad_request("reminderMinutesBeforeStart must be a non-negative integer.")
        elif key == "attendees":
            value = _attendees(value)
        elif key == "location":
            value = _location(value, "location")
        elif key == "locations":
            if not isinstance(value, list):
                raise bad_request("locations must be a list.")
            value = [_location(v, f"locations[{i}]") for i, v in enumerate(value)]
        elif key in ("start", "end"):
            parse_when(value, key)
            value = {"dateTime": value["dateTime"], "timeZone": value.get("timeZone") or "UTC"}
        out[key] = value
    return out


def times(data: dict[str, Any]) -> tuple[When, When]:
    """start and end of a complete event, with Graph's rules: both given, end not before start,
    all-day events at midnight in one zone."""
    if "start" not in data or "end" not in data:
        raise bad_request("An event needs both start and end.", "ErrorPropertyValidationFailure")
    start, end = parse_when(data["start"], "start"), parse_when(data["end"], "end")
    if end.utc < start.utc:
        raise bad_request("The end time of an event cannot be before its start time.", "ErrorInvalidRequest")
    if data.get("isAllDay"):
        midnight = start.moment.time() == time(0) and end.moment.time() == time(0)
        if not midnight or start.zone_name != end.zone_name or end.moment.date() <= start.moment.date():
            raise bad_request("An all-day event's start and end must be at midnight, in the same time zone, at "
                              "least one day apart (isAllDay).", "ErrorPropertyValidationFailure")
    return start, end


def complete(data: dict[str, Any], *, instance: bool) -> dict[str, Any]:
    """Checks a full event after create or merge; normalises its recurrence."""
    start, _ = times(data)
    if data.get("recurrence") is not None:
        if instance:
            raise bad_request("An occurrence or exception of a series cannot have its own recurrence.")
        data = {**data, "recurrence": recurrence.normalise(data["recurrence"], start)}
    return data
