"""Event resources as Calendar v3 returns them (`calendar#event`), full or as a tombstone."""

from __future__ import annotations

import hashlib
from typing import Any

from calsync.emulators.google.store import Calendar, Record
from calsync.emulators.google.times import format_instant

_PASSTHROUGH_READONLY = ("iCalUID", "recurringEventId", "originalStartTime", "hangoutLink")


def derived_etag(master_etag: str, instance_id: str) -> str:
    digest = hashlib.sha1(f"{master_etag}/{instance_id}".encode()).hexdigest()
    return f'"{int(digest[:13], 16)}"'


def render(cal: Calendar, record: Record, resource: dict[str, Any] | None = None, *, etag: str | None = None,
           minimal: bool = False) -> dict[str, Any]:
    """`resource` overrides the record's own (generated instances of a master)."""
    res = resource if resource is not None else record.resource
    tag = etag or record.etag
    status = res.get("status", "confirmed")
    if minimal:
        out: dict[str, Any] = {"kind": "calendar#event", "etag": tag, "id": res["id"], "status": status}
        if "recurringEventId" in res:
            out["recurringEventId"] = res["recurringEventId"]
            out["originalStartTime"] = res["originalStartTime"]
        return out
    out = {
        "kind": "calendar#event", "etag": tag, "id": res["id"], "status": status,
        "htmlLink": f"https://calendar.emulator.invalid/event?eid={res['id']}",
        "created": format_instant(record.created), "updated": format_instant(record.updated),
    }
    for key, value in res.items():
        if key not in out and key != "status":
            out[key] = value
    out["creator"] = {"email": cal.owner, "self": True}
    out["organizer"] = {"email": cal.id, "displayName": cal.summary, "self": True}
    if "attendees" in out:
        out["attendees"] = [
            {**a, **({"self": True} if a["email"] == cal.owner else {}),
             **({"organizer": True} if a["email"] == cal.id else {})}
            for a in out["attendees"]
        ]
    out.setdefault("sequence", 0)
    out.setdefault("reminders", {"useDefault": True})
    out.setdefault("eventType", "default")
    return out
