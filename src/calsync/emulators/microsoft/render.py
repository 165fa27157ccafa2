"""Event resources as Graph v1.0 returns them: every property, `@odata.etag` = W/"<changeKey>",
start/end in the zone `Prefer: outlook.timezone` asks for (UTC by default), HTML bodies unless
`Prefer: outlook.body-content-type="text"`, and `$select` / `$expand` applied."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from calsync.emulators.microsoft import extended, ids
from calsync.emulators.microsoft.errors import bad_request
from calsync.emulators.microsoft.instances import Instance
from calsync.emulators.microsoft.prefer import Prefer
from calsync.emulators.microsoft.times import format_offset, format_plain, render_floating, render_when

NO_TIME = "0001-01-01T00:00:00Z"
_HTML_HEAD = ('<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
              '<style type="text/css" style="display:none">\r\n<!--\r\np\r\n\t{margin-top:0;\r\n\tmargin-bottom:0}\r\n'
              '-->\r\n</style>\r\n</head>\r\n<body dir="ltr">\r\n')
SELECTABLE = {"allowNewTimeProposals", "attendees", "body", "bodyPreview", "cancelledOccurrences", "categories",
              "changeKey", "createdDateTime", "end", "exceptionOccurrences", "hasAttachments", "hideAttendees",
              "iCalUId", "id", "importance", "isAllDay", "isCancelled", "isDraft", "isOnlineMeeting", "isOrganizer",
              "isReminderOn", "lastModifiedDateTime", "location", "locations", "onlineMeeting",
              "onlineMeetingProvider", "onlineMeetingUrl", "organizer", "originalEndTimeZone", "originalStart",
              "originalStartTimeZone", "recurrence", "reminderMinutesBeforeStart", "responseRequested",
              "responseStatus", "sensitivity", "seriesMasterId", "showAs", "start", "subject", "transactionId",
              "type", "webLink", "singleValueExtendedProperties"}


class _Text(HTMLParser):
    """HTML to plain text the way Outlook's text view does it, roughly: no head, style or markup."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("head", "style", "script"):
            self._skip += 1
        elif tag in ("br", "p", "div") and self.parts:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts).replace("\r", "")).strip()


def text_to_html(text: str) -> str:
    lines = html.escape(text).replace("\r\n", "\n").split("\n")
    return _HTML_HEAD + "<div>" + "<br>\r\n".join(lines) + "</div>\r\n</body>\r\n</html>\r\n"


def body_of(data: dict[str, Any], prefer: Prefer) -> tuple[dict[str, str], str]:
    """(body as the reader asked for it, bodyPreview)."""
    stored = data.get("body") or {"contentType": "text", "content": ""}
    text = stored["content"] if stored["contentType"] == "text" else html_to_text(stored["content"])
    preview = " ".join(text.split())[:255]
    if prefer.text_body:
        return {"contentType": "text", "content": text}, preview
    if stored["contentType"] == "html":
        return {"contentType": "html", "content": stored["content"]}, preview
    return {"contentType": "html", "content": text_to_html(text) if text else ""}, preview


def _location(value: dict[str, Any] | None) -> dict[str, Any]:
    value = value or {}
    return {"displayName": value.get("displayName", ""), "locationType": value.get("locationType", "default"),
            "uniqueIdType": value.get("uniqueIdType", "unknown"),
            **{k: v for k, v in value.items() if k not in ("displayName", "locationType", "uniqueIdType")},
            "address": value.get("address", {}), "coordinates": value.get("coordinates", {})}


def _when(inst: Instance, which: str, prefer: Prefer) -> dict[str, str]:
    moment = inst.start if which == "start" else inst.end
    if inst.record.data.get("isAllDay"):
        return render_floating(moment, prefer.time_zone)
    return render_when(moment, prefer.time_zone)


def render(inst: Instance, user: str, prefer: Prefer, *, select: list[str] | None = None,
           expand: list[str] | None = None, exceptions: list[Any] | None = None) -> dict[str, Any]:
    """`exceptions`: a master's exception records, for a selected exceptionOccurrences."""
    data = inst.record.data
    master = inst.master
    event_id = inst.id(user, prefer.immutable_ids)
    body, preview = body_of(data, prefer)
    out: dict[str, Any] = {
        "@odata.etag": f'W/"{inst.change_key}"',
        "id": event_id,
        "createdDateTime": format_offset((master or inst.record).created if inst.kind == "occurrence"
                                         else inst.record.created),
        "lastModifiedDateTime": format_offset(inst.record.modified),
        "changeKey": inst.change_key,
        "categories": list(data.get("categories", [])),
    }
    if inst.record.transaction_id and inst.kind in ("singleInstance", "seriesMaster"):
        out["transactionId"] = inst.record.transaction_id
    out.update({
        "originalStartTimeZone": data.get("originalStartTimeZone") or data["start"]["timeZone"],
        "originalEndTimeZone": data.get("originalEndTimeZone") or data["end"]["timeZone"],
        "iCalUId": ids.ical_uid(inst.series_key, inst.original_start),
        "reminderMinutesBeforeStart": data.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": data.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": data.get("subject", ""),
        "bodyPreview": preview,
        "importance": data.get("importance", "normal"),
        "sensitivity": data.get("sensitivity", "normal"),
        "isAllDay": bool(data.get("isAllDay", False)),
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": data.get("responseRequested", True),
        "seriesMasterId": master_id(inst, user, prefer),
        "showAs": data.get("showAs", "busy"),
        "type": inst.kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": data.get("isOnlineMeeting", False),
        "onlineMeetingProvider": data.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": data.get("allowNewTimeProposals", True),
        "isDraft": data.get("isDraft", False),
        "hideAttendees": data.get("hideAttendees", False),
        "responseStatus": {"response": "organizer", "time": NO_TIME},
        "body": body,
        "start": _when(inst, "start", prefer),
        "end": _when(inst, "end", prefer),
        "location": _location(data.get("location")),
        "locations": [_location(x) for x in data.get("locations", [])],
        "recurrence": data.get("recurrence") if inst.kind == "seriesMaster" else None,
        "attendees": [{"type": a["type"], "status": {"response": "none", "time": NO_TIME},
                       "emailAddress": a["emailAddress"]} for a in data.get("attendees", [])],
        "organizer": {"emailAddress": {"name": user.split("@")[0], "address": user}},
        "onlineMeeting": None,
    })
    if inst.original_start is not None:
        out["originalStart"] = format_plain(inst.original_start)
    if expand is not None:
        out["singleValueExtendedProperties"] = extended.render(inst.record.extended if inst.kind != "occurrence"
                                                               else master.extended if master else {}, expand)
    if select is not None:
        keep = set(select) | {"@odata.etag", "id"}
        if expand is not None:
            keep.add("singleValueExtendedProperties")
        extra = series_extras(inst, user, prefer, keep, exceptions or [])
        out = {k: v for k, v in out.items() if k in keep}
        out.update(extra)
    return out


def master_id(inst: Instance, user: str, prefer: Prefer) -> str | None:
    if inst.master is None:
        return None
    return ids.encode(user, inst.master.key, inst.master.generation, prefer.immutable_ids)


def series_extras(inst: Instance, user: str, prefer: Prefer, keep: set[str], exceptions: list[Any]) -> dict[str, Any]:
    """cancelledOccurrences / exceptionOccurrences: only when selected, only on a master."""
    out: dict[str, Any] = {}
    if inst.kind != "seriesMaster":
        return out
    own = inst.id(user, prefer.immutable_ids)
    if "cancelledOccurrences" in keep:
        out["cancelledOccurrences"] = [f"OID.{own}.{s.date().isoformat()}" for s in sorted(inst.record.cancelled)]
    if "exceptionOccurrences" in keep:
        starts = sorted(r.original_start for r in exceptions if r.original_start)
        out["exceptionOccurrences"] = [f"OID.{own}.{s.date().isoformat()}" for s in starts]
    return out


def parse_select(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in SELECTABLE:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
                              "RequestBroker--ParseUri")
    return names
