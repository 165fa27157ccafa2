"""What an event body may hold: id rules, times, enums, extended-property limits.

Read-only and unknown fields are dropped (as Calendar does), so everything the emulator returns
is a field of the discovery document's `Event`.
"""

from __future__ import annotations

import re
from typing import Any

from calsync.emulators.google import recurrence
from calsync.emulators.google.errors import bad_request
from calsync.emulators.google.times import parse_when

ID_RULE = re.compile(r"^[a-v0-9]{5,1024}$")

# Stored fields. attachments, gadget and the focus-time / out-of-office / working-location /
# birthday property blocks are not kept (calsync does not use them); they are dropped like
# read-only fields.
WRITABLE = {
    "anyoneCanAddSelf", "attendees", "colorId", "conferenceData", "description", "end", "endTimeUnspecified",
    "eventType", "extendedProperties", "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests",
    "location", "privateCopy", "recurrence", "reminders", "sequence", "source", "start", "status", "summary",
    "transparency", "visibility",
}
BOOLEANS = ("anyoneCanAddSelf", "endTimeUnspecified", "guestsCanInviteOthers", "guestsCanModify",
            "guestsCanSeeOtherGuests", "privateCopy")
STRINGS = ("summary", "description", "location", "colorId")
# The shape of conferenceData as the discovery document gives it ("str", "bool", nested dicts,
# [list item shape]); anything else in a body is dropped.
_KEY = {"type": "str"}
CONFERENCE_SHAPE: dict[str, Any] = {
    "conferenceId": "str", "notes": "str", "signature": "str",
    "conferenceSolution": {"iconUri": "str", "key": _KEY, "name": "str"},
    "createRequest": {"conferenceSolutionKey": _KEY, "requestId": "str", "status": {"statusCode": "str"}},
    "entryPoints": [{"accessCode": "str", "entryPointFeatures": ["str"], "entryPointType": "str", "label": "str",
                     "meetingCode": "str", "passcode": "str", "password": "str", "pin": "str", "regionCode": "str",
                     "uri": "str"}],
    "parameters": {"addOnParameters": {"parameters": {"*": "str"}}},
}
SOURCE_SHAPE: dict[str, Any] = {"title": "str", "url": "str"}


def shaped(value: Any, shape: Any, location: str) -> Any:
    """`value` cut to `shape`: unknown keys dropped, wrong types refused with 400."""
    if shape == "str":
        if not isinstance(value, str):
            raise bad_request(f"Invalid value for {location}: expected a string.", location=location)
        return value
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise bad_request(f"Invalid value for {location}: expected a list.", location=location)
        return [shaped(item, shape[0], location) for item in value]
    if not isinstance(value, dict):
        raise bad_request(f"Invalid value for {location}: expected an object.", location=location)
    if "*" in shape:
        return {str(k): shaped(v, shape["*"], f"{location}.{k}") for k, v in value.items() if v is not None}
    return {k: shaped(v, shape[k], f"{location}.{k}") for k, v in value.items() if k in shape and v is not None}
ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "visibility": ("default", "public", "private", "confidential"),
    "transparency": ("opaque", "transparent"),
    "eventType": ("birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation"),
}
RESPONSE_STATUS = ("needsAction", "declined", "tentative", "accepted")
REMINDER_METHODS = ("email", "popup")
MAX_KEY, MAX_VALUE, MAX_PROPERTIES, MAX_PROPERTY_BYTES = 44, 1024, 300, 32 * 1024


def check_client_id(value: Any) -> str:
    if not isinstance(value, str) or not ID_RULE.match(value):
        raise bad_request("Invalid resource id value. An event id uses the characters a-v and 0-9 (base32hex) "
                          "and is 5 to 1024 characters long.", location="id", location_type="other")
    return value


def _extended(props: Any) -> dict[str, dict[str, str]]:
    """Keys over 44 chars are dropped, values over 1024 chars cut; >300 properties or >32 kB is 400."""
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise bad_request("Invalid extendedProperties.", location="extendedProperties")
    out: dict[str, dict[str, str]] = {}
    count = size = 0
    for scope in ("private", "shared"):
        values = props.get(scope)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise bad_request(f"Invalid extendedProperties.{scope}.", location=f"extendedProperties.{scope}")
        kept: dict[str, str] = {}
        for key, value in values.items():
            if value is None or len(key) > MAX_KEY:
                continue
            if not isinstance(value, str):
                raise bad_request(f"Invalid value for extendedProperties.{scope}.{key}: values are strings.",
                                  location=f"extendedProperties.{scope}")
            kept[key] = value[:MAX_VALUE]
            count += 1
            size += len(key.encode()) + len(kept[key].encode())
        out[scope] = kept
    if count > MAX_PROPERTIES or size > MAX_PROPERTY_BYTES:
        raise bad_request("Too many extended properties: at most 300 properties and 32 kB per event.",
                          location="extendedProperties")
    return out


def _attendees(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise bad_request("Invalid attendees: expected a list.", location="attendees")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("email"), str) or "@" not in item["email"]:
            raise bad_request("Invalid attendee email: every attendee needs an email address.", location="attendees")
        status = item.get("responseStatus", "needsAction")
        if status not in RESPONSE_STATUS:
            raise bad_request(f"Invalid attendee responseStatus {status!r}.", location="attendees.responseStatus")
        keep = {k: item[k] for k in ("additionalGuests", "comment", "displayName", "email", "optional", "resource")
                if k in item and item[k] is not None}
        keep["responseStatus"] = status
        out.append(keep)
    return out


def _reminders(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("Invalid reminders.", location="reminders")
    out: dict[str, Any] = {"useDefault": bool(value.get("useDefault", False))}
    overrides = value.get("overrides")
    if overrides:
        if out["useDefault"]:
            raise bad_request("Cannot specify both default reminders and overrides at the same time.",
                              location="reminders")
        if not isinstance(overrides, list) or len(overrides) > 5:
            raise bad_request("Invalid reminders.overrides: at most 5 reminders.", location="reminders.overrides")
        for item in overrides:
            if not isinstance(item, dict) or item.get("method") not in REMINDER_METHODS \
                    or not isinstance(item.get("minutes"), int) or not 0 <= item["minutes"] <= 40320:
                raise bad_request("Invalid reminder: method is email or popup, minutes 0 to 40320.",
                                  location="reminders.overrides")
        out["overrides"] = [{"method": o["method"], "minutes": o["minutes"]} for o in overrides]
    return out


def normalise(body: Any, *, is_instance: bool) -> dict[str, Any]:
    """The stored form of a complete event body (after patch merging or for insert/update)."""
    if not isinstance(body, dict):
        raise bad_request("Parse Error: the request body must be a JSON object.", reason="parseError",
                          location_type="other")
    out: dict[str, Any] = {}
    for key in WRITABLE:
        if body.get(key) is not None:
            out[key] = body[key]
    for key, allowed in ENUMS.items():
        if key in out and out[key] not in allowed:
            raise bad_request(f"Invalid value for {key}: {out[key]!r} (allowed: {', '.join(allowed)}).", location=key)
    for key in STRINGS:
        if key in out and not isinstance(out[key], str):
            raise bad_request(f"Invalid value for {key}: expected a string.", location=key)
    for key in BOOLEANS:
        if key in out and not isinstance(out[key], bool):
            raise bad_request(f"Invalid value for {key}: expected true or false.", location=key)
    sequence = out.get("sequence", 0)
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**31:
        raise bad_request("Invalid sequence value: a non-negative 32-bit integer.", location="sequence")
    if "source" in out:
        out["source"] = shaped(out["source"], SOURCE_SHAPE, "source")
    if "conferenceData" in out:
        out["conferenceData"] = shaped(out["conferenceData"], CONFERENCE_SHAPE, "conferenceData")
    start, end = parse_when(body.get("start"), "start"), parse_when(body.get("end"), "end")
    out["start"], out["end"] = start.to_json(), end.to_json()
    if start.all_day != end.all_day:
        raise bad_request("Start and end times must either both be date or both be dateTime.", location="end")
    if end.instant() < start.instant():
        raise bad_request("The specified time range is empty.", reason="timeRangeEmpty", location="end")
    if "extendedProperties" in out:
        out["extendedProperties"] = _extended(out["extendedProperties"])
    if "attendees" in out:
        out["attendees"] = _attendees(out["attendees"])
    out["reminders"] = _reminders(out.get("reminders", {"useDefault": True}))
    if "recurrence" in out:
        if is_instance:
            raise bad_request("An instance of a recurring event cannot carry a recurrence.", location="recurrence")
        out["recurrence"] = recurrence.check_lines(out["recurrence"])
        if out["recurrence"]:
            recurrence.validate_master(out)
        else:
            del out["recurrence"]
    out.setdefault("eventType", "default")
    return out


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """PATCH: objects merge key by key, null removes a key, arrays replace the whole array."""
    out = dict(current)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out
