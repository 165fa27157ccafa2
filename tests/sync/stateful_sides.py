"""The calendar side of the stateful machine, as a person using another app would act on it:
the in-memory provider, or CalDAV on a real Radicale. Same operations on both, so one machine
runs on each."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from dataclasses import replace
from typing import Any

import icalendar

from calsync.sync.model import Event
from calsync.sync.provider import CalendarProvider, Window
from tests.sync.harness import Harness

UTC = dt.timezone.utc
_calendars = itertools.count()


def ics_time(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class Side:
    """What the machine needs from a calendar: act like a person, look at every event."""

    calendar_id: str
    kind = ""

    def connect(self, h: Harness, email: str, **settings: Any) -> None:
        raise NotImplementedError

    def open(self) -> CalendarProvider:
        raise NotImplementedError

    def put(self, event_id: str | None, summary: str, start: dt.datetime, private: bool) -> tuple[str, dt.datetime]:
        """Creates or rewrites a single one-hour event; returns its id and the modification
        time the calendar recorded (what the engine compares for "newer")."""
        raise NotImplementedError

    def delete(self, event_id: str) -> None:
        raise NotImplementedError

    def touch(self, event_id: str) -> dt.datetime:
        """A new etag and modification time, no edit (an alarm acknowledged); returns the time."""
        raise NotImplementedError

    def break_(self, event_id: str) -> None:
        """Stores an object the provider cannot read over the event (end before start)."""
        raise NotImplementedError

    def put_series(self, summary: str, start: dt.datetime, count: int, private: bool) -> str:
        raise NotImplementedError

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        raise NotImplementedError

    def move_occurrence(self, series_id: str, recurrence_id: str, summary: str, start: dt.datetime, end: dt.datetime) -> None:
        raise NotImplementedError

    def snapshot(self, now: dt.datetime) -> tuple[list[Event], set[str]]:
        """Every readable event instance of the current calendar, and the ids of unreadable ones."""
        raise NotImplementedError

    def new_calendar(self) -> str:
        raise NotImplementedError

    def set_page_size(self, provider: CalendarProvider, size: int | None) -> None:
        raise NotImplementedError

    def expire_cursors(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None


class MemorySide(Side):
    kind = "memory"

    def __init__(self, h: Harness, account: str) -> None:
        self.h, self.server, self.account = h, h.server, account
        self.calendar_id = "primary"
        self.page_size = self.server.page_size

    def connect(self, h: Harness, email: str, **settings: Any) -> None:
        h.connect(email, self.account, **settings)

    def open(self) -> CalendarProvider:
        return self.h.factory.open({"account": self.account})

    def _current(self, event_id: str) -> Event | None:
        return next((e for e in self.server.events(self.account, self.calendar_id) if e.event_id == event_id), None)

    def put(self, event_id: str | None, summary: str, start: dt.datetime, private: bool) -> tuple[str, dt.datetime]:
        current = self._current(event_id) if event_id else None
        base = current or Event(self.calendar_id, event_id=event_id or "", timezone="Europe/Paris")
        event = replace(base, summary=summary, start=start, end=start + dt.timedelta(hours=1), all_day=False,
                        start_date=None, end_date=None, privacy="private" if private else "public")
        stored = self.server.user_put(self.account, event)
        assert stored.updated is not None
        return stored.event_id, stored.updated

    def delete(self, event_id: str) -> None:
        self.server.user_delete(self.account, self.calendar_id, event_id)

    def touch(self, event_id: str) -> dt.datetime:
        self.server.user_touch(self.account, self.calendar_id, event_id)
        current = self._current(event_id)
        return current.updated if current is not None and current.updated else dt.datetime.now(UTC)

    def break_(self, event_id: str) -> None:
        self.server.user_break(self.account, self.calendar_id, event_id)

    def put_series(self, summary: str, start: dt.datetime, count: int, private: bool) -> str:
        event = Event(self.calendar_id, summary=summary, start=start, end=start + dt.timedelta(hours=1), timezone="UTC",
                      privacy="private" if private else "public")
        return self.server.user_put_series(self.account, event, count=count)

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        self.server.user_cancel_occurrence(self.account, self.calendar_id, series_id, recurrence_id)

    def move_occurrence(self, series_id: str, recurrence_id: str, summary: str, start: dt.datetime, end: dt.datetime) -> None:
        self.server.user_edit_occurrence(self.account, self.calendar_id, series_id, recurrence_id, summary=summary, start=start, end=end)

    def snapshot(self, now: dt.datetime) -> tuple[list[Event], set[str]]:
        window = Window(now - dt.timedelta(days=3650), now + dt.timedelta(days=400))
        return self.server.events(self.account, self.calendar_id, window), set(self.server.unreadable(self.account, self.calendar_id))

    def new_calendar(self) -> str:
        name = f"work{next(_calendars)}"
        self.server.add_calendar(self.account, name, name.title())
        self.calendar_id = name
        return name

    def set_page_size(self, provider: CalendarProvider, size: int | None) -> None:
        self.server.page_size = size or self.page_size

    def expire_cursors(self) -> None:
        self.server.expire_cursors(self.account)


class DavSide(Side):
    """CalDAV on a real server: the other app's edits are plain PUT/DELETE of iCalendar text."""

    kind = "radicale"

    def __init__(self, server: Any, user: str = "alice") -> None:
        import httpx

        from tests.support.harness import DavHarness

        self.server, self.user = server, user
        self.password = server.users[user]
        self.dav = DavHarness(server, user)  # makes a fresh calendar
        self.calendar_id = self.dav.calendar_id
        self.http: httpx.Client = self.dav.http
        self.box: Any = None

    def connect(self, h: Harness, email: str, **settings: Any) -> None:
        from calsync.providers.caldav.factory import CalDavFactory
        from calsync.store.tables import User
        from calsync.sync import accounts as sync_accounts
        from calsync.sync import registry

        registry.register(CalDavFactory())
        self.box = h.context.box
        params = {"url": self.server.url, "username": self.user, "password": self.password, "calendar": self.calendar_id}
        with h.session() as s:
            user = s.get(User, h.users[email])
            sync_accounts.connect(s, h.context.box, user, "caldav", params)
            if settings:
                sync_accounts.update_settings(s, h.context.box, user, settings)

    def open(self) -> CalendarProvider:
        from calsync.providers.caldav import CalDavProvider

        return CalDavProvider(self.server.url, self.user, self.password)

    def _url(self, event_id: str) -> str:
        import httpx

        return str(httpx.URL(self.calendar_id).join(event_id))

    def _get(self, event_id: str) -> icalendar.Calendar | None:
        response = self.http.get(self._url(event_id))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return icalendar.Calendar.from_ical(response.text)

    def _put(self, event_id: str, cal: icalendar.Calendar) -> None:
        response = self.http.put(self._url(event_id), content=cal.to_ical(),
                                 headers={"Content-Type": "text/calendar; charset=utf-8"})
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {event_id} gave {response.status_code}: {response.text[:300]}")

    @staticmethod
    def _stamp(component: Any, when: dt.datetime) -> None:
        for name in ("DTSTAMP", "LAST-MODIFIED"):
            component.pop(name, None)
            component.add(name, when)

    def put(self, event_id: str | None, summary: str, start: dt.datetime, private: bool) -> tuple[str, dt.datetime]:
        now = dt.datetime.now(UTC).replace(microsecond=0)
        cal = self._get(event_id) if event_id else None
        if cal is None or not any(c.name == "VEVENT" for c in cal.walk()):
            uid = uuid.uuid4().hex
            event_id = event_id or f"{self.calendar_id.rstrip('/').rsplit('/', 1)[-1]}/{uid}.ics"
            event_id = self._path(uid) if event_id.endswith(f"{uid}.ics") else event_id
            cal = icalendar.Calendar()
            cal.add("PRODID", "-//other app//EN")
            cal.add("VERSION", "2.0")
            component = icalendar.Event()
            component.add("UID", uid)
            cal.add_component(component)
        component = next(c for c in cal.walk() if c.name == "VEVENT")
        for name in ("SUMMARY", "DTSTART", "DTEND", "DURATION", "CLASS"):
            component.pop(name, None)
        component.add("SUMMARY", summary)
        component.add("DTSTART", start.astimezone(UTC))
        component.add("DTEND", start.astimezone(UTC) + dt.timedelta(hours=1))
        component.add("CLASS", "PRIVATE" if private else "PUBLIC")
        self._stamp(component, now)
        assert event_id is not None
        self._put(event_id, cal)
        return event_id, now

    def _path(self, uid: str) -> str:
        import httpx

        return httpx.URL(self.calendar_id + f"{uid}.ics").path

    def delete(self, event_id: str) -> None:
        self.http.delete(self._url(event_id))

    def touch(self, event_id: str) -> dt.datetime:
        now = dt.datetime.now(UTC).replace(microsecond=0)
        cal = self._get(event_id)
        if cal is not None:
            for component in cal.walk("VEVENT"):
                self._stamp(component, now)
            self._put(event_id, cal)
        return now

    def break_(self, event_id: str) -> None:
        cal = self._get(event_id)
        if cal is None:
            return
        component = next(c for c in cal.walk() if c.name == "VEVENT")
        start = component.decoded("DTSTART")
        component.pop("DTEND", None)
        component.pop("DURATION", None)
        component.add("DTEND", start - dt.timedelta(hours=2))  # ends before it starts
        self._stamp(component, dt.datetime.now(UTC).replace(microsecond=0))
        self._put(event_id, cal)

    def put_series(self, summary: str, start: dt.datetime, count: int, private: bool) -> str:
        uid = uuid.uuid4().hex
        return self.dav.put_ics(
            f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\nDTSTART:{ics_time(start)}\n"
            f"DTEND:{ics_time(start + dt.timedelta(hours=1))}\nRRULE:FREQ=WEEKLY;COUNT={count}\n"
            f"CLASS:{'PRIVATE' if private else 'PUBLIC'}\nSUMMARY:{summary}\nEND:VEVENT",
            name=f"{uid}.ics",
        )

    def cancel_occurrence(self, series_id: str, recurrence_id: str) -> None:
        self.dav.cancel_occurrence(series_id, recurrence_id)

    def move_occurrence(self, series_id: str, recurrence_id: str, summary: str, start: dt.datetime, end: dt.datetime) -> None:
        text = self.dav.get_ics(series_id).replace("\r\n", "\n")
        uid = re.search(r"^UID:(.*)$", text, re.M).group(1).strip()  # type: ignore[union-attr]
        override = (
            f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\nRECURRENCE-ID:{recurrence_id}\n"
            f"DTSTART:{ics_time(start)}\nDTEND:{ics_time(end)}\nSUMMARY:{summary}\nEND:VEVENT\n"
        )
        text = text.replace("END:VCALENDAR", override + "END:VCALENDAR")
        self.dav._replace(series_id, text.replace("\n", "\r\n"))

    def snapshot(self, now: dt.datetime) -> tuple[list[Event], set[str]]:
        window = Window(now - dt.timedelta(days=3650), now + dt.timedelta(days=400))
        events: list[Event] = []
        unreadable: set[str] = set()
        page: str | None = None
        while True:
            changes = self.dav.provider.list_changes(self.calendar_id, None, window, page)
            events.extend(changes.events)
            unreadable.update(href for href, _ in changes.skipped)
            if changes.next_page is None:
                return events, unreadable
            page = changes.next_page

    def new_calendar(self) -> str:
        self.calendar_id = self.server.make_calendar(self.user, f"s{next(_calendars)}-{uuid.uuid4().hex[:6]}")
        self.dav.calendar_id = self.calendar_id
        return self.calendar_id

    def set_page_size(self, provider: CalendarProvider, size: int | None) -> None:
        inner = getattr(provider, "inner", provider)
        if size is not None:
            inner.lister.page_size = size  # type: ignore[attr-defined]

    def expire_cursors(self) -> None:
        try:
            self.dav.expire("")
        except FileNotFoundError:
            pass  # no sync token handed out yet

    def close(self) -> None:
        self.dav.close()
