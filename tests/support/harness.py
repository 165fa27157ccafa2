"""One interface over every provider under test, for the provider contract suite: the provider
itself plus "another app editing the calendar" (writes without preconditions), so the same tests
run on the in-memory provider, on CalDAV against real Radicale and Xandikos servers, and on
Google Calendar against the emulator."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from calsync.sync.model import Event
from calsync.sync.provider import CalendarProvider
from tests.support.radicale import DavServer

UTC = dt.timezone.utc
_names = itertools.count()


def ics_time(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class Harness:
    """Base: `provider`, `calendar_id`, and the other-app operations."""

    kind = ""
    provider: CalendarProvider
    calendar_id: str

    def put_single(self, summary: str, start: dt.datetime, end: dt.datetime, *, privacy: str = "public",
                   busy: bool = True) -> str:
        raise NotImplementedError

    def put_daily_series(self, summary: str, start: dt.datetime, count: int) -> str:
        raise NotImplementedError

    def move_occurrence(self, series_id: str, recurrence_id: str, start: dt.datetime, end: dt.datetime) -> None:
        raise NotImplementedError

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        raise NotImplementedError

    def edit_summary(self, event_id: str, summary: str) -> None:
        raise NotImplementedError

    def delete(self, event_id: str) -> None:
        raise NotImplementedError

    def expire(self, cursor: str) -> str:
        """Makes the server forget `cursor`; returns the cursor to present (the same one)."""
        raise NotImplementedError

    def set_page_size(self, size: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.provider.close()


class MemoryHarness(Harness):
    kind = "memory"

    def __init__(self) -> None:
        from calsync.providers.memory import MemoryCalendarServer

        self.server = MemoryCalendarServer(page_size=50)
        self.provider = self.server.open("alice")
        self.calendar_id = "primary"

    def put_single(self, summary: str, start: dt.datetime, end: dt.datetime, *, privacy: str = "public",
                   busy: bool = True) -> str:
        event = Event(calendar_id=self.calendar_id, summary=summary, start=start, end=end, timezone="UTC",
                      privacy=privacy, busy=busy)  # type: ignore[arg-type]
        return self.server.user_put("alice", event).event_id

    def put_daily_series(self, summary: str, start: dt.datetime, count: int) -> str:
        event = Event(calendar_id=self.calendar_id, summary=summary, start=start,
                      end=start + dt.timedelta(hours=1), timezone="UTC")
        return self.server.user_put_series("alice", event, freq="daily", count=count)

    def move_occurrence(self, series_id: str, recurrence_id: str, start: dt.datetime, end: dt.datetime) -> None:
        self.server.user_edit_occurrence("alice", self.calendar_id, series_id, recurrence_id, start=start, end=end)

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        self.server.user_cancel_occurrence("alice", self.calendar_id, series_id, recurrence_id)

    def edit_summary(self, event_id: str, summary: str) -> None:
        current = next(e for e in self.server.events("alice", self.calendar_id) if e.event_id == event_id)
        self.server.user_put("alice", replace(current, summary=summary))

    def delete(self, event_id: str) -> None:
        self.server.user_delete("alice", self.calendar_id, event_id)

    def expire(self, cursor: str) -> str:
        self.server.expire_cursors("alice")
        return cursor

    def set_page_size(self, size: int) -> None:
        self.server.page_size = size


class DavHarness(Harness):
    """CalDAV on a real server: a fresh calendar per test; other-app edits are plain PUT/DELETE."""

    def __init__(self, server: DavServer, user: str) -> None:
        from calsync.providers.caldav import CalDavProvider

        self.server = server
        self.kind = server.kind
        self.user = user
        self.calendar_id = server.make_calendar(user, f"c{next(_names)}-{uuid.uuid4().hex[:6]}")
        password = server.users.get(user) if server.users else None
        self.provider = CalDavProvider(server.url, user if password else None, password)
        self.http = httpx.Client(auth=server.auth(user), timeout=30)

    def close(self) -> None:
        self.http.close()
        super().close()

    def _url(self, event_id: str) -> str:
        return httpx.URL(self.calendar_id).join(event_id).__str__()

    def put_ics(self, body: str, name: str | None = None) -> str:
        """Stores `body` (VEVENT lines or a whole VCALENDAR) as another app would; returns the href."""
        name = name or f"{uuid.uuid4().hex}.ics"
        if not body.lstrip().startswith("BEGIN:VCALENDAR"):
            body = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//other app//EN\n{body.strip()}\nEND:VCALENDAR\n"
        text = body.replace("\r\n", "\n").replace("\n", "\r\n")
        url = self.calendar_id + name
        response = self.http.put(url, content=text.encode(), headers={"Content-Type": "text/calendar; charset=utf-8"})
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {url} gave {response.status_code}: {response.text[:300]}")
        return httpx.URL(url).path

    def get_ics(self, event_id: str) -> str:
        response = self.http.get(self._url(event_id))
        response.raise_for_status()
        return response.text

    def _replace(self, event_id: str, text: str) -> None:
        response = self.http.put(self._url(event_id), content=text.encode(),
                                 headers={"Content-Type": "text/calendar; charset=utf-8"})
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT gave {response.status_code}: {response.text[:300]}")

    def put_single(self, summary: str, start: dt.datetime, end: dt.datetime, *, privacy: str = "public",
                   busy: bool = True) -> str:
        uid = uuid.uuid4().hex
        return self.put_ics(
            f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\nDTSTART:{ics_time(start)}\n"
            f"DTEND:{ics_time(end)}\nSUMMARY:{summary}\nCLASS:{privacy.upper()}\n"
            f"TRANSP:{'OPAQUE' if busy else 'TRANSPARENT'}\nEND:VEVENT",
            name=f"{uid}.ics",
        )

    def put_daily_series(self, summary: str, start: dt.datetime, count: int) -> str:
        uid = uuid.uuid4().hex
        return self.put_ics(
            f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\nDTSTART:{ics_time(start)}\n"
            f"DTEND:{ics_time(start + dt.timedelta(hours=1))}\nRRULE:FREQ=DAILY;COUNT={count}\n"
            f"SUMMARY:{summary}\nEND:VEVENT",
            name=f"{uid}.ics",
        )

    def move_occurrence(self, series_id: str, recurrence_id: str, start: dt.datetime, end: dt.datetime) -> None:
        text = self.get_ics(series_id).replace("\r\n", "\n")
        uid = re.search(r"^UID:(.*)$", text, re.M).group(1).strip()  # type: ignore[union-attr]
        override = (
            f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\nRECURRENCE-ID:{recurrence_id}\n"
            f"DTSTART:{ics_time(start)}\nDTEND:{ics_time(end)}\nSUMMARY:moved\nEND:VEVENT\n"
        )
        text = text.replace("END:VCALENDAR", override + "END:VCALENDAR")
        self._replace(series_id, text.replace("\n", "\r\n"))

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        text = self.get_ics(series_id).replace("\r\n", "\n")
        text = re.sub(r"^(RRULE:.*)$", lambda m: m.group(1) + f"\nEXDATE:{recurrence_id}", text, count=1, flags=re.M)
        self._replace(series_id, text.replace("\n", "\r\n"))

    def edit_summary(self, event_id: str, summary: str) -> None:
        text = self.get_ics(event_id).replace("\r\n", "\n")
        text = re.sub(r"^SUMMARY:.*$", f"SUMMARY:{summary}", text, flags=re.M)
        self._replace(event_id, text.replace("\n", "\r\n"))

    def delete(self, event_id: str) -> None:
        self.http.delete(self._url(event_id))

    def expire(self, cursor: str) -> str:
        if self.kind == "radicale":
            # Radicale forgets tokens older than max_sync_token_age by removing their state files.
            relative = httpx.URL(self.calendar_id).path.strip("/")
            shutil.rmtree(self.server.storage / "collection-root" / relative / ".Radicale.cache" / "sync-token")
            return cursor
        # Xandikos tokens are git commits: one the repository does not hold is what it rejects.
        return "st:" + "0" * 40

    def set_page_size(self, size: int) -> None:
        self.provider.lister.page_size = size  # type: ignore[attr-defined]

    def requests(self) -> int:
        return self.provider.counter.total  # type: ignore[attr-defined]


class EmulatedHarness(Harness):
    """What the Google and Microsoft sides share: other-app edits through the emulator's API as the
    user (`api`), expiring sync tokens through its controls, and the provider's own counters."""

    emulator: Any

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 300:
            raise RuntimeError(f"{response.request.method} {response.request.url} gave {response.status_code}: "
                               f"{response.text[:300]}")
        return response.json() if response.content else None

    def expire(self, cursor: str) -> str:
        self.emulator.post("/expire-sync-tokens")
        return cursor

    def set_page_size(self, size: int) -> None:
        self.provider.lister.page_size = size  # type: ignore[attr-defined]

    def requests(self) -> int:
        return self.provider.http.requests  # type: ignore[attr-defined]


class GoogleHarness(EmulatedHarness):
    """Google Calendar on the emulator: a fresh calendar per test, the provider connected through
    the real OAuth flow; other-app edits go through the ordinary API as the user."""

    kind = "google"

    def __init__(self, emulator: Any, user: str = "a@example.com") -> None:
        self.emulator = emulator
        self.calendar_id = emulator.add_calendar(user, f"c{next(_names)}")
        self.credentials = emulator.connect(user)
        self.provider = emulator.open(self.credentials)
        self.api = emulator.client(user)

    def _events(self) -> str:
        return f"/calendars/{quote(self.calendar_id, safe='')}/events"

    @staticmethod
    def _when(value: dt.datetime) -> dict[str, str]:
        return {"dateTime": value.astimezone(UTC).isoformat().replace("+00:00", "Z"), "timeZone": "UTC"}

    def put_single(self, summary: str, start: dt.datetime, end: dt.datetime, *, privacy: str = "public",
                   busy: bool = True) -> str:
        body = {"summary": summary, "start": self._when(start), "end": self._when(end),
                "visibility": "default" if privacy == "public" else privacy,
                "transparency": "opaque" if busy else "transparent"}
        return str(self._ok(self.api.post(self._events(), json=body))["id"])

    def put_daily_series(self, summary: str, start: dt.datetime, count: int) -> str:
        body = {"summary": summary, "start": self._when(start), "end": self._when(start + dt.timedelta(hours=1)),
                "recurrence": [f"RRULE:FREQ=DAILY;COUNT={count}"]}
        return str(self._ok(self.api.post(self._events(), json=body))["id"])

    def _instance(self, series_id: str, recurrence_id: str) -> dict[str, Any]:
        from calsync.providers.google.wire import recurrence_id as rid_of

        items = self._ok(self.api.get(f"{self._events()}/{series_id}/instances"))["items"]
        return next(i for i in items if rid_of(i["originalStartTime"]) == recurrence_id)

    def move_occurrence(self, series_id: str, recurrence_id: str, start: dt.datetime, end: dt.datetime) -> None:
        instance = self._instance(series_id, recurrence_id)
        self._ok(self.api.patch(f"{self._events()}/{instance['id']}",
                                json={"summary": "moved", "start": self._when(start), "end": self._when(end)}))

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        instance = self._instance(series_id, recurrence_id)
        self._ok(self.api.delete(f"{self._events()}/{instance['id']}"))

    def edit_summary(self, event_id: str, summary: str) -> None:
        self._ok(self.api.patch(f"{self._events()}/{event_id}", json={"summary": summary}))

    def delete(self, event_id: str) -> None:
        self._ok(self.api.delete(f"{self._events()}/{event_id}"))


class MicrosoftHarness(EmulatedHarness):
    """Outlook on the Graph emulator: a fresh calendar per test, the provider opened by its factory
    from stored credentials; other-app edits go through Graph as the user (immutable ids, as the
    provider asks for them)."""

    kind = "microsoft"

    def __init__(self, emulator: Any, user: str = "a@example.com") -> None:
        from calsync.config import Settings
        from calsync.providers.microsoft import MicrosoftFactory

        self.emulator = emulator
        self.calendar_id = emulator.add_calendar(user, f"c{next(_names)}")
        settings = Settings(microsoft_client_id=emulator.config.client_id,
                            microsoft_client_secret=emulator.config.client_secret,
                            microsoft_graph_url=emulator.base, microsoft_login_url=emulator.base)
        self.factory = MicrosoftFactory(lambda: settings)
        expires = (dt.datetime.now(UTC) + dt.timedelta(hours=1)).isoformat()
        self.credentials = {"access_token": emulator.token(user), "expires_at": expires}
        self.provider = self.factory.open(self.credentials)
        self.api = emulator.client(user, headers={"Prefer": 'IdType="ImmutableId"'})

    def _events(self) -> str:
        return f"/me/calendars/{quote(self.calendar_id, safe='')}/events"

    @staticmethod
    def _when(value: dt.datetime) -> dict[str, str]:
        return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}

    def put_single(self, summary: str, start: dt.datetime, end: dt.datetime, *, privacy: str = "public",
                   busy: bool = True) -> str:
        body = {"subject": summary, "start": self._when(start), "end": self._when(end),
                "sensitivity": "normal" if privacy == "public" else privacy, "showAs": "busy" if busy else "free"}
        return str(self._ok(self.api.post(self._events(), json=body))["id"])

    def put_daily_series(self, summary: str, start: dt.datetime, count: int) -> str:
        body = {"subject": summary, "start": self._when(start), "end": self._when(start + dt.timedelta(hours=1)),
                "recurrence": {"pattern": {"type": "daily", "interval": 1},
                               "range": {"type": "numbered", "startDate": start.astimezone(UTC).date().isoformat(),
                                         "numberOfOccurrences": count}}}
        return str(self._ok(self.api.post(self._events(), json=body))["id"])

    def _instance(self, series_id: str, recurrence_id: str) -> dict[str, Any]:
        from calsync.providers.microsoft.wire import recurrence_id as rid_of

        now = dt.datetime.now(UTC)
        params = {"startDateTime": (now - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "endDateTime": (now + dt.timedelta(days=800)).strftime("%Y-%m-%dT%H:%M:%SZ"), "$top": 1000}
        items = self._ok(self.api.get(f"/me/events/{quote(series_id, safe='')}/instances", params=params))["value"]
        return next(i for i in items if rid_of(i) == recurrence_id)

    def move_occurrence(self, series_id: str, recurrence_id: str, start: dt.datetime, end: dt.datetime) -> None:
        instance = self._instance(series_id, recurrence_id)
        self._ok(self.api.patch(f"/me/events/{quote(instance['id'], safe='')}",
                                json={"subject": "moved", "start": self._when(start), "end": self._when(end)}))

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        instance = self._instance(series_id, recurrence_id)
        self._ok(self.api.delete(f"/me/events/{quote(instance['id'], safe='')}"))

    def edit_summary(self, event_id: str, summary: str) -> None:
        self._ok(self.api.patch(f"/me/events/{quote(event_id, safe='')}", json={"subject": summary}))

    def delete(self, event_id: str) -> None:
        self._ok(self.api.delete(f"/me/events/{quote(event_id, safe='')}"))


def make_harness(kind: str, servers: dict[str, Any]) -> Harness:
    if kind == "memory":
        return MemoryHarness()
    if kind == "google":
        return GoogleHarness(servers["google"])
    if kind == "microsoft":
        return MicrosoftHarness(servers["microsoft"])
    server = servers[kind]
    return DavHarness(server, "alice" if kind == "radicale" else "user")
