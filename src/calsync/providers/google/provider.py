"""The Google Calendar provider: one open connection to one account, speaking the
CalendarProvider Protocol. Listing lives in changes.py, writes in writes.py, the JSON mapping in
wire.py, retries in http.py and tokens in auth.py; this module glues them together."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.providers.google import push, wire
from calsync.providers.google.batch import Batcher
from calsync.providers.google.changes import Lister
from calsync.providers.google.http import GoogleHttp, message, path
from calsync.providers.google.writes import Writer
from calsync.sync.model import CalendarInfo, ChangeSet, Event
from calsync.sync.provider import Outcome, ProviderError, Window, Write

DEFAULT_HORIZON = dt.timedelta(days=365)
WRITER_ROLES = {"owner", "writer"}


class GoogleProvider:
    """CalendarProvider for Google Calendar (API v3)."""

    name = "google"
    # Synced fields this provider cannot write (Google makes conference links itself, from a
    # conferenceData createRequest): read, never written. The engine leaves them out of both
    # hashes of this provider's links and never clears them on an activity from a pulled edit;
    # the contract's round-trip test leaves them out.
    unmapped_fields = frozenset({"conference_url"})

    def __init__(self, http: GoogleHttp, *, page_size: int = 2500) -> None:
        self.http = http
        self.lister = Lister(http, page_size=page_size)
        self.writer = Writer(http, self.lister)
        self.batcher = Batcher(http, self.writer)
        self.window: Window | None = None
        self._prefetched: dict[tuple[str, str], dict[str, Any]] = {}  # (calendar, id) -> resource

    @property
    def credentials(self) -> dict[str, Any]:
        """The current tokens (refreshed ones included), for whoever stores the connection."""
        return self.http.tokens.credentials

    def _window(self) -> Window:
        if self.window is not None:
            return self.window
        now = dt.datetime.now(dt.timezone.utc)
        return Window(now - dt.timedelta(days=1), now + DEFAULT_HORIZON)

    def list_calendars(self) -> list[CalendarInfo]:
        calendars: list[CalendarInfo] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"maxResults": 250, **({"pageToken": page} if page else {})}
            response = self.http.send("GET", path("users", "me", "calendarList"), params=params)
            if response.status_code != 200:
                raise ProviderError(f"Google Calendar refused to list the calendars (HTTP {response.status_code}): "
                                    f"{message(response)}")
            body = response.json()
            for entry in body.get("items") or []:
                if entry.get("deleted"):
                    continue
                calendars.append(CalendarInfo(
                    id=entry["id"], name=entry.get("summaryOverride") or entry.get("summary") or entry["id"],
                    writable=entry.get("accessRole") in WRITER_ROLES, primary=bool(entry.get("primary")),
                    color=entry.get("backgroundColor")))
            page = body.get("nextPageToken")
            if not page:
                return calendars

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None = None) -> ChangeSet:
        self.window = window
        return self.lister.list_changes(calendar_id, cursor, window, page)

    def create_event(self, event: Event, *, send_invitations: bool) -> Event:
        return self.writer.create(event, send_invitations=send_invitations)

    def update_event(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        return self.writer.update(event, etag, send_invitations=send_invitations)

    def delete_event(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        self.writer.delete(calendar_id, event_id, etag)

    def undelete_event(self, event: Event, *, send_invitations: bool) -> Event:
        """Undeleter: Google keeps a deleted event (and its id) as `cancelled`; this confirms it
        again with the activity's fields (the engine calls it when a create meets a deleted id)."""
        return self.writer.undelete(event, send_invitations=send_invitations)

    def restore_series(self, calendar_id: str, event_id: str, original: str | None = None) -> None:
        """SeriesRestorer: the series deleted in Google, confirmed again with the exceptions that
        went with it (Google keeps them; no stored copy needed)."""
        self.writer.restore_series(calendar_id, event_id, self._window())

    def write_many(self, writes: list[Write]) -> list[Outcome]:
        """Many creates, updates and deletes in multipart batches of up to 50; one Outcome each."""
        return self.batcher.write_many(writes)

    def prefetch(self, calendar_id: str, event_ids: list[str]) -> None:
        """Optional (not in the Protocol): reads the events about to be updated in batches, so the
        engine's read before each update costs no request of its own."""
        for event_id, resource in self.batcher.get_many(calendar_id, event_ids).items():
            self._prefetched[(calendar_id, event_id)] = resource

    def get_event(self, calendar_id: str, event_id: str) -> list[Event]:
        resource = self._prefetched.pop((calendar_id, event_id), None) or self.lister.get(calendar_id, event_id)
        if resource is None or resource.get("status") == "cancelled":
            return []
        if resource.get("recurrence"):
            return self.lister.instances(calendar_id, event_id, self._window())
        return [wire.to_event(calendar_id, resource, self.lister.zones.get(calendar_id))]

    def find_by_activity_id(self, calendar_id: str, activity_uuid: str) -> Event | None:
        """First the id we would have created, then a search on our extended property (events
        created before a reconnect, or copied by another client)."""
        try:
            candidate = self.lister.get(calendar_id, wire.event_id_for(activity_uuid))
        except ValueError:
            candidate = None
        if candidate is None or candidate.get("status") == "cancelled" or \
                ((candidate.get("extendedProperties") or {}).get("private") or {}).get(wire.ACTIVITY_KEY) != activity_uuid:
            candidate = self.lister.find(calendar_id, activity_uuid)
        if candidate is None:
            return None
        return wire.to_event(calendar_id, candidate, self.lister.zones.get(calendar_id))

    def watch(self, calendar_id: str, address: str, token: str) -> dict[str, Any]:
        """Opens an `events.watch` channel to `address` carrying `token` (see push.py)."""
        return push.watch(self.http, calendar_id, address, token)

    def unwatch(self, channel: dict[str, Any]) -> None:
        push.unwatch(self.http, channel)

    def close(self) -> None:
        self.http.close()
