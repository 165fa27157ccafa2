"""The Microsoft Graph provider: one open connection to one mailbox, speaking the
CalendarProvider Protocol. Listing lives in changes.py, writes in writes.py, `$batch` in
batch.py, the JSON mapping in wire.py, retries in http.py and tokens in auth.py."""

from __future__ import annotations

from typing import Any

from calsync.providers.microsoft import wire
from calsync.providers.microsoft.batch import Batcher
from calsync.providers.microsoft.changes import Lister
from calsync.providers.microsoft.http import GraphHttp, message, path
from calsync.providers.microsoft.mailbox import Mailbox
from calsync.providers.microsoft.writes import Writer
from calsync.sync.model import CalendarInfo, ChangeSet, Event
from calsync.sync.provider import Outcome, ProviderError, Window, Write


class MicrosoftProvider(Mailbox):
    """CalendarProvider for Outlook / Microsoft 365 calendars (Graph v1.0); the mailbox's
    subscriptions (watch, renew, unwatch) come from Mailbox."""

    name = "microsoft"
    # Graph makes Teams links itself: read, never written (left out of this provider's hashes).
    unmapped_fields = frozenset({"conference_url"})
    # Graph mails every attendee on a create or update that carries attendees: with invitations
    # off they are not written, and the engine treats them as a field this calendar cannot carry.
    attendees_need_invitations = True

    def __init__(self, http: GraphHttp, *, page_size: int = 100) -> None:
        super().__init__(http)  # type: ignore[arg-type]
        self.http: GraphHttp = http
        self.lister = Lister(http, page_size=page_size)
        self.writer = Writer(http, self.lister)
        self.batcher = Batcher(http, self.writer)

    @property
    def credentials(self) -> dict[str, Any]:
        """The current tokens (refreshed and rotated ones included), for whoever stores them."""
        return self.http.tokens.credentials

    def list_calendars(self) -> list[CalendarInfo]:
        calendars: list[CalendarInfo] = []
        url: str | None = path("me", "calendars")
        params: dict[str, Any] | None = {"$top": 100}
        while url:
            response = self.http.send("GET", url, params=params)
            if response.status_code != 200:
                raise ProviderError(f"Microsoft Graph refused to list the calendars (HTTP {response.status_code}): "
                                    f"{message(response)}")
            body = response.json()
            for entry in body.get("value") or []:
                calendars.append(CalendarInfo(id=entry["id"], name=entry.get("name") or entry["id"],
                                              writable=bool(entry.get("canEdit", True)),
                                              primary=bool(entry.get("isDefaultCalendar")),
                                              color=entry.get("hexColor") or None))
            url, params = body.get("@odata.nextLink"), None
        return calendars

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None = None) -> ChangeSet:
        return self.lister.list_changes(calendar_id, cursor, window, page)

    def create_event(self, event: Event, *, send_invitations: bool) -> Event:
        return self.writer.create(event, send_invitations=send_invitations)

    def update_event(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        return self.writer.update(event, etag, send_invitations=send_invitations)

    def delete_event(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        self.writer.delete(calendar_id, event_id, etag)

    def write_many(self, writes: list[Write]) -> list[Outcome]:
        """Many creates, updates and deletes in `$batch` requests of up to 20; one Outcome each."""
        return self.batcher.write_many(writes)

    def get_event(self, calendar_id: str, event_id: str) -> list[Event]:
        resource = self.lister.get(calendar_id, event_id)
        if resource is None:
            return []
        if resource.get("type") == "seriesMaster":
            import datetime as dt

            now = dt.datetime.now(dt.timezone.utc)
            window = Window(now - dt.timedelta(days=1), now + dt.timedelta(days=365))
            return [wire.to_event(calendar_id, r) for r in self.lister.instances(event_id, window)]
        return [wire.to_event(calendar_id, resource)]

    def find_by_activity_id(self, calendar_id: str, activity_uuid: str) -> Event | None:
        found = self.lister.find(calendar_id, activity_uuid)
        return None if found is None else wire.to_event(calendar_id, found)

    def close(self) -> None:
        self.http.close()
