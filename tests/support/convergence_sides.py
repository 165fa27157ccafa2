"""The calendar side of the convergence workload: "another app" editing one user's calendar on the
Google emulator, the Graph emulator or a real Radicale through their ordinary HTTP APIs, and a
listing of what the calendar holds that does not go through calsync's providers (the checker
must not trust the code it checks)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

UTC = dt.timezone.utc
# Idle connections are dropped well before the servers close theirs (Uvicorn after 5 s), so a
# request never goes out on a connection the server is closing (a reset, not an answer).
LIMITS = httpx.Limits(keepalive_expiry=1.0)
WINDOW_DAYS = 60  # every item of the workload starts within the next 40 days


@dataclass(frozen=True)
class Listed:
    """One event as the calendar shows it: its id (the provider's event id) and title."""

    event_id: str
    summary: str


class CalendarSide(Protocol):
    kind: str

    def create(self, summary: str, start: dt.datetime, end: dt.datetime) -> str: ...

    def edit(self, event_id: str, summary: str) -> dt.datetime:
        """Retitles the event; returns the modification time the calendar now reports for it."""
        ...

    def delete(self, event_id: str, *, missing_ok: bool = False) -> None:
        """Deletes the event; `missing_ok`: a sync may have deleted it already (404/410 are fine)."""
        ...

    def listing(self) -> list[Listed]: ...

    def close(self) -> None: ...


def _ok(response: httpx.Response, missing_ok: bool = False) -> Any:
    if missing_ok and response.status_code in (404, 410):
        return None
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url} gave {response.status_code}: "
                           f"{response.text[:300]}")
    return response.json() if response.content else None


def _instant(text: str) -> dt.datetime:
    """An RFC 3339 time with any number of fraction digits (Graph sends seven) as aware UTC."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", text.strip())
    if match is None:
        raise ValueError(f"not a time: {text!r}")
    base = dt.datetime.fromisoformat(match.group(1))
    micro = int((match.group(2) or "0")[:6].ljust(6, "0"))
    zone = match.group(3) or "Z"
    offset = dt.timezone.utc if zone == "Z" else dt.datetime.strptime(zone.replace(":", ""), "%z").tzinfo
    return base.replace(microsecond=micro, tzinfo=offset).astimezone(UTC)  # type: ignore[arg-type]


def _window() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    return now - dt.timedelta(days=1), now + dt.timedelta(days=WINDOW_DAYS)


class GoogleSide:
    """One user's calendar on the Google emulator, through Calendar API v3 as that user."""

    kind = "google"

    def __init__(self, emulator: Any, user: str, calendar_id: str) -> None:
        self.api = httpx.Client(base_url=emulator.base + "/calendar/v3", timeout=30, limits=LIMITS,
                                headers={"Authorization": f"Bearer {emulator.token(user)}"})
        self.path = f"/calendars/{quote(calendar_id, safe='')}/events"

    @staticmethod
    def _when(value: dt.datetime) -> dict[str, str]:
        return {"dateTime": value.astimezone(UTC).isoformat().replace("+00:00", "Z"), "timeZone": "UTC"}

    def create(self, summary: str, start: dt.datetime, end: dt.datetime) -> str:
        body = {"summary": summary, "start": self._when(start), "end": self._when(end)}
        return str(_ok(self.api.post(self.path, json=body))["id"])

    def edit(self, event_id: str, summary: str) -> dt.datetime:
        return _instant(_ok(self.api.patch(f"{self.path}/{event_id}", json={"summary": summary}))["updated"])

    def delete(self, event_id: str, *, missing_ok: bool = False) -> None:
        _ok(self.api.delete(f"{self.path}/{event_id}"), missing_ok)

    def listing(self) -> list[Listed]:
        start, end = _window()
        params: dict[str, Any] = {"singleEvents": "true", "maxResults": 250,
                                  "timeMin": start.isoformat().replace("+00:00", "Z"),
                                  "timeMax": end.isoformat().replace("+00:00", "Z")}
        found: list[Listed] = []
        while True:
            page = _ok(self.api.get(self.path, params=params))
            found += [Listed(i["id"], i.get("summary", "")) for i in page.get("items", [])
                      if i.get("status") != "cancelled"]
            if not page.get("nextPageToken"):
                return found
            params["pageToken"] = page["nextPageToken"]

    def close(self) -> None:
        self.api.close()


class MicrosoftSide:
    """One user's calendar on the Graph emulator, as that user with immutable ids (as calsync asks)."""

    kind = "microsoft"

    def __init__(self, emulator: Any, user: str, calendar_id: str) -> None:
        self.api = httpx.Client(base_url=emulator.base + "/v1.0", timeout=30, limits=LIMITS,
                                headers={"Authorization": f"Bearer {emulator.token(user)}",
                                         "Prefer": 'IdType="ImmutableId"'})
        self.calendar = f"/me/calendars/{quote(calendar_id, safe='')}"

    @staticmethod
    def _when(value: dt.datetime) -> dict[str, str]:
        return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}

    def create(self, summary: str, start: dt.datetime, end: dt.datetime) -> str:
        body = {"subject": summary, "start": self._when(start), "end": self._when(end)}
        return str(_ok(self.api.post(self.calendar + "/events", json=body))["id"])

    def edit(self, event_id: str, summary: str) -> dt.datetime:
        reply = _ok(self.api.patch(f"/me/events/{quote(event_id, safe='')}", json={"subject": summary}))
        return _instant(reply["lastModifiedDateTime"])

    def delete(self, event_id: str, *, missing_ok: bool = False) -> None:
        _ok(self.api.delete(f"/me/events/{quote(event_id, safe='')}"), missing_ok)

    def listing(self) -> list[Listed]:
        start, end = _window()
        url: str | None = self.calendar + "/calendarView"
        params: dict[str, Any] | None = {"startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                         "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "$top": 1000}
        found: list[Listed] = []
        for _ in range(100):
            if not url:
                return found
            page = _ok(self.api.get(url, params=params))
            found += [Listed(i["id"], i.get("subject", "")) for i in page.get("value", [])
                      if not i.get("isCancelled")]
            url, params = page.get("@odata.nextLink"), None
        raise RuntimeError(f"{self.calendar}/calendarView: still a next page after 100, the last {url}")

    def close(self) -> None:
        self.api.close()


_REPORT = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:prop><C:calendar-data/></D:prop>"
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>'
    "</C:calendar-query>"
)
_NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class RadicaleSide:
    """One user's calendar on a real Radicale: plain PUT/DELETE of iCalendar text, as a phone
    would, with LAST-MODIFIED set to when the edit happened (what calsync compares on a conflict)."""

    kind = "caldav"

    def __init__(self, server: Any, user: str, calendar_url: str) -> None:
        self.url = calendar_url
        self.http = httpx.Client(auth=server.auth(user), timeout=30, limits=LIMITS)

    def _href(self, event_id: str) -> str:
        return str(httpx.URL(self.url).join(event_id))

    def _put(self, url: str, text: str) -> None:
        body = text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        reply = self.http.put(url, content=body, headers={"Content-Type": "text/calendar; charset=utf-8"})
        if reply.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {url} gave {reply.status_code}: {reply.text[:300]}")

    def create(self, summary: str, start: dt.datetime, end: dt.datetime) -> str:
        uid = uuid.uuid4().hex
        now = _stamp(dt.datetime.now(UTC))
        url = self.url + f"{uid}.ics"
        self._put(url, "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//other app//EN\nBEGIN:VEVENT\n"
                       f"UID:{uid}\nDTSTAMP:{now}\nLAST-MODIFIED:{now}\nDTSTART:{_stamp(start)}\n"
                       f"DTEND:{_stamp(end)}\nSUMMARY:{summary}\nEND:VEVENT\nEND:VCALENDAR\n")
        return httpx.URL(url).path

    def edit(self, event_id: str, summary: str) -> dt.datetime:
        url = self._href(event_id)
        reply = self.http.get(url)
        reply.raise_for_status()
        when = dt.datetime.now(UTC).replace(microsecond=0)
        text = reply.text.replace("\r\n", "\n")
        text = re.sub(r"^SUMMARY[;:].*$", f"SUMMARY:{summary}", text, count=1, flags=re.M)
        for name in ("LAST-MODIFIED", "DTSTAMP"):
            text = re.sub(rf"^{name}[;:].*\n", "", text, flags=re.M)
        text = text.replace("END:VEVENT", f"DTSTAMP:{_stamp(when)}\nLAST-MODIFIED:{_stamp(when)}\nEND:VEVENT", 1)
        self._put(url, text)
        return when

    def delete(self, event_id: str, *, missing_ok: bool = False) -> None:
        reply = self.http.delete(self._href(event_id))
        if reply.status_code not in (200, 204) and not (missing_ok and reply.status_code == 404):
            raise RuntimeError(f"DELETE {event_id} gave {reply.status_code}")

    def listing(self) -> list[Listed]:
        reply = self.http.request("REPORT", self.url, content=_REPORT.encode(),
                                  headers={"Depth": "1", "Content-Type": "application/xml"})
        if reply.status_code != 207:
            raise RuntimeError(f"REPORT {self.url} gave {reply.status_code}: {reply.text[:300]}")
        found: list[Listed] = []
        for response in ET.fromstring(reply.content).findall("D:response", _NS):
            href = response.findtext("D:href", default="", namespaces=_NS)
            data = response.find(".//C:calendar-data", _NS)
            if data is None or not data.text:
                continue
            text = re.sub(r"\r?\n[ \t]", "", data.text)  # unfold
            summary = re.search(r"^SUMMARY(?:;[^:]*)?:(.*?)\r?$", text, re.M)
            found.append(Listed(href, summary.group(1) if summary else ""))
        return found

    def close(self) -> None:
        self.http.close()
