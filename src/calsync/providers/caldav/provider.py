"""The CalDAV provider: one open connection to one account, speaking the CalendarProvider
Protocol. Listing lives in changes.py, discovery in discovery.py, the iCalendar mapping in
ical.py; this module holds the writes and glues the parts together.

Writes: a create PUTs to `<calendar>/<activity uuid>.ics` with `If-None-Match: *`, so a create
repeated after a crash cannot duplicate (412 -> AlreadyExists). Updates and deletes carry
`If-Match: <etag>` (412 -> PreconditionFailed). `If-Match: *` is never sent (Radicale fails it)."""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import urljoin

from calsync.config import get_settings
from calsync.providers.caldav import davxml, discovery, ical
from calsync.providers.caldav.changes import Lister, norm, wire
from calsync.providers.caldav.davxml import CALDAV, DAV, tag
from calsync.providers.caldav.http import DavClient, RequestCounter
from calsync.providers.caldav.objects import expand
from calsync.sync.model import CalendarInfo, ChangeSet, Event
from calsync.sync.provider import AlreadyExists, EventNotFound, PreconditionFailed, ProviderError, Window

DEFAULT_HORIZON = dt.timedelta(days=365)


def server_words(body: str, limit: int = 300) -> str:
    """The readable text of an error body (plain text, HTML or a DAV:error document): tags
    become spaces, an XML declaration is dropped, whitespace collapses."""
    text = re.sub(r"<\?xml[^>]*\?>", " ", body or "")
    text = re.sub(r"<([A-Za-z][\w.-]*:)?([\w-]+)\s*/>", r" \2 ", text)  # empty elements name the condition
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(html.unescape(text).split())
    return text[:limit]


class CalDavProvider:
    """CalendarProvider for any CalDAV server (Radicale, Xandikos, iCloud, Fastmail, Nextcloud...)."""

    name = "caldav"
    # a PUT replaces the whole object, so update_event patches the object the server holds: the
    # engine's prefetch covers every update, not only those it reads first
    rewrites_whole_objects = True

    def __init__(
        self,
        url: str,
        username: str | None,
        password: str | None,
        *,
        home_url: str | None = None,
        page_size: int = 1000,
        use_sync_collection: bool | None = None,
        counter: RequestCounter | None = None,
        timeout: float = 30.0,
        chosen_calendar: str | None = None,
        own_address: str | None = None,
        guarded: bool = False,
        max_occurrences: int | None = None,
        rate_limited: bool = True,
    ) -> None:
        self.url = url
        self.own_address = own_address  # the account's e-mail: ORGANIZER of events we give attendees
        self.chosen_calendar = chosen_calendar
        self.home_url = home_url
        self.client = DavClient(url, username, password, counter=counter, timeout=timeout, guarded=guarded,
                                rate_limited=rate_limited)
        self.lister = Lister(self.client, page_size=page_size, use_sync_collection=use_sync_collection)
        if max_occurrences is None:
            max_occurrences = get_settings().max_occurrences_per_series
        self.lister.max_occurrences = self.max_occurrences = max(1, max_occurrences)
        self.window: Window | None = None
        self._prefetched: dict[str, tuple[str, str | None]] = {}  # href -> (text, etag)

    @property
    def counter(self) -> RequestCounter:
        return self.client.counter

    # -------------------------------------------------------------- reading

    def list_calendars(self) -> list[CalendarInfo]:
        """The event calendars of the account. The one picked at connect time (by name or URL) is
        the `primary`, so whoever stores the connection selects it."""
        if self.home_url is None:
            self.home_url = discovery.discover(self.client, self.url).home_url
        calendars = discovery.list_calendars(self.client, self.home_url)
        if self.chosen_calendar:
            if not any(norm(c.id) == norm(self.chosen_calendar) for c in calendars):
                calendars += discovery.list_calendars(self.client, self.chosen_calendar, depth="0")
            for calendar in calendars:
                calendar.primary = norm(calendar.id) == norm(self.chosen_calendar)
        return calendars

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None = None) -> ChangeSet:
        self.window = window
        return self.lister.list_changes(calendar_id, cursor, window, page)

    def _window(self) -> Window:
        if self.window is not None:
            return self.window
        now = dt.datetime.now(dt.timezone.utc)
        return Window(now - dt.timedelta(days=1), now + DEFAULT_HORIZON)

    def _read(self, calendar_id: str, href: str) -> tuple[str, str | None] | None:
        """(text, etag) of one object through calendar-multiget, or None when it is gone."""
        for item in self.lister.multiget(calendar_id, [href]):
            data = item.text(tag(CALDAV, "calendar-data"))
            if item.status == 404 or data is None:
                return None
            return data, item.text(tag(DAV, "getetag"))
        return None

    def prefetch(self, calendar_id: str, event_ids: list[str]) -> None:
        """Optional (not in the Protocol): reads the current text of events about to be updated
        with one multiget per 1,000, so `update_event` without `raw` costs one PUT instead of a
        read and a PUT. A write still carries If-Match, so a stale prefetch fails safely."""
        hrefs = sorted({norm(e) for e in event_ids})
        for start in range(0, len(hrefs), self.lister.page_size):
            for item in self.lister.multiget(calendar_id, hrefs[start:start + self.lister.page_size]):
                data = item.text(tag(CALDAV, "calendar-data"))
                if item.status != 404 and data is not None:
                    self._prefetched[norm(item.href)] = (data, item.text(tag(DAV, "getetag")))

    def fetch_events(self, calendar_id: str, event_ids: list[str], window: Window) -> ChangeSet:
        """Optional (not in the Protocol): reads named objects with calendar-multiget, as the
        engine does for items one listing named and another did not (deleted: 404)."""
        self.window = window
        return self.lister.fetch(calendar_id, event_ids, window)

    def get_event(self, calendar_id: str, event_id: str) -> list[Event]:
        cached = self._prefetched.get(norm(event_id))
        found = cached if cached is not None else self._read(calendar_id, norm(event_id))
        if found is None:
            return []
        text, etag = found
        expanded = expand(calendar_id, norm(event_id), etag, text, self._window(), self.max_occurrences)
        if expanded.skipped:
            raise ProviderError(f"the event {event_id} cannot be read: {expanded.skipped}")
        return expanded.events

    def find_by_activity_id(self, calendar_id: str, activity_uuid: str) -> Event | None:
        """First the href we would have created, then a calendar-query on our X- property
        (events created before a reconnect, or copied by another client)."""
        href = self.href_for(calendar_id, activity_uuid)
        candidates: list[tuple[str, str, str | None]] = []
        found = self._read(calendar_id, href)
        if found is not None:
            candidates.append((href, *found))
        else:
            response = self.client.report(calendar_id, davxml.query_property(ical.ACTIVITY_PROP, activity_uuid))
            if response.status_code == 207:
                status = self.client.expect_multistatus(response, "REPORT calendar-query", calendar_id)
                for item in status.responses:
                    data = item.text(tag(CALDAV, "calendar-data"))
                    if data:
                        candidates.append((norm(item.href), data, item.text(tag(DAV, "getetag"))))
        for href_found, text, etag in candidates:
            expanded = expand(calendar_id, href_found, etag, text, self._window())
            for event in expanded.events:
                if event.activity_uuid == activity_uuid:
                    return event
        return None

    # -------------------------------------------------------------- writing

    @staticmethod
    def href_for(calendar_id: str, activity_uuid: str) -> str:
        safe = "".join(ch for ch in activity_uuid if ch.isalnum() or ch in "-_")
        return norm(urljoin(calendar_id, f"{safe}.ics"))

    def _etag_after_write(self, calendar_id: str, href: str, response_etag: str | None) -> str | None:
        if response_etag:
            return response_etag
        status = self.client.propfind(wire(href), "D:getetag")  # some servers send no ETag on PUT
        for item in status.responses:
            return item.text(tag(DAV, "getetag"))
        return None

    def create_event(self, event: Event, *, send_invitations: bool) -> Event:
        if not event.activity_uuid:
            raise ValueError("create_event needs event.activity_uuid (the href is derived from it)")
        calendar_id = event.calendar_id
        href = self.href_for(calendar_id, event.activity_uuid)
        uid = event.uid or event.activity_uuid
        text = ical.new_object(event, uid, send_invitations=send_invitations, own_address=self.own_address)
        response = self.client.send(
            "PUT", wire(href), body=text, content_type="text/calendar; charset=utf-8",
            headers={"If-None-Match": "*"},
        )
        if response.status_code in (409, 412):
            raise AlreadyExists(f"an event for activity {event.activity_uuid} exists already at {href}")
        if response.status_code == 403 and "no-uid-conflict" in davxml.error_conditions(response.content):
            raise AlreadyExists(f"an event with the UID {uid} exists already in this calendar")
        self._expect_write(response, "create", href)
        etag = self._etag_after_write(calendar_id, href, response.headers.get("ETag"))
        return self._written(event, href, uid, etag, text)

    def update_event(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        href = norm(event.event_id)
        raw = event.raw if isinstance(event.raw, str) else None
        cached = self._prefetched.pop(href, None)
        if raw is None and cached is not None and (etag is None or cached[1] == etag):
            raw, etag = cached[0], etag or cached[1]
        if raw is None:
            found = self._read(event.calendar_id, href)
            if found is None:
                raise EventNotFound(f"the event {href} is no longer in the calendar")
            raw, current_etag = found
            etag = etag or current_etag
        text = ical.patched_object(raw, event, send_invitations=send_invitations, own_address=self.own_address)
        headers = {"If-Match": etag} if etag else {}
        response = self.client.send("PUT", wire(href), body=text, content_type="text/calendar; charset=utf-8",
                                    headers=headers)
        if response.status_code == 412:
            if self._read(event.calendar_id, href) is None:
                raise EventNotFound(f"the event {href} is no longer in the calendar")
            raise PreconditionFailed(f"the event {href} changed in the calendar since it was read")
        if response.status_code == 404:
            raise EventNotFound(f"the event {href} is no longer in the calendar")
        self._expect_write(response, "update", href)
        new_etag = self._etag_after_write(event.calendar_id, href, response.headers.get("ETag"))
        return self._written(event, href, event.uid, new_etag, text)

    def restore_series(self, calendar_id: str, event_id: str, original: str | None) -> None:
        """Writes a recurring series the calendar lost back under its href, as the object it was
        (`original`, the text last read from the server): one PUT, never one event per occurrence."""
        if not original:
            raise ProviderError(f"there is no stored copy of the series {event_id}")
        href = norm(event_id)
        response = self.client.send("PUT", wire(href), body=original, content_type="text/calendar; charset=utf-8",
                                    headers={"If-None-Match": "*"})
        if response.status_code in (409, 412):
            raise AlreadyExists(f"the series {href} is in the calendar already")
        self._expect_write(response, "restore", href)

    def delete_event(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        href = norm(event_id)
        headers = {"If-Match": etag} if etag else {}
        response = self.client.send("DELETE", wire(href), headers=headers)
        if response.status_code in (200, 204, 404, 410):
            return
        if response.status_code == 412:
            if self._read(calendar_id, href) is None:
                return
            raise PreconditionFailed(f"the event {href} changed in the calendar since it was read")
        self._expect_write(response, "delete", href)

    def _expect_write(self, response: object, what: str, href: str) -> None:
        """A refused write says what the server said (its words reach the item and the run log)."""
        code = getattr(response, "status_code", 0)
        if code in (200, 201, 204):
            return
        words = server_words(getattr(response, "text", ""))
        said = f": the server says \"{words}\"" if words else ""
        if code == 403 and not words:
            raise ProviderError(f"the calendar server does not allow this {what} ({href}, HTTP 403): is the calendar read-only?")
        raise ProviderError(f"the calendar server refused the {what} of {href} (HTTP {code}){said}")

    def _written(self, event: Event, href: str, uid: str | None, etag: str | None, text: str) -> Event:
        expanded = expand(event.calendar_id, href, etag, text, self._window())
        for written in expanded.events:
            if not event.recurrence_id or written.recurrence_id == event.recurrence_id:
                return written
        result = Event(**{**event.__dict__})
        result.event_id, result.uid, result.etag, result.raw = href, uid, etag, text
        return result

    def close(self) -> None:
        self.client.close()
