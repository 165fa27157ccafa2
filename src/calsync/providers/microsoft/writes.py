"""Writes to an Outlook calendar, each with a precondition.

- create (`POST /me/calendars/{id}/events`) carries `transactionId` = `calsync-<activity uuid>`:
  a create repeated after a crash returns the first event instead of a duplicate. When the
  event Graph returns is not the one we sent (another write created it first), that is
  AlreadyExists, and the engine adopts the event found by our extended property. Graph deletes
  for good (no `cancelled` status keeps an id taken), so there is no undelete: a restored
  activity is simply created again.
- PATCH with `If-Match: <etag>`: a 412 (`ErrorIrresolvableConflict`) reads the event again:
  gone → EventNotFound, else PreconditionFailed (the engine decides again with the new state).
  Only the mapped fields are sent, so what we do not map survives.
- DELETE with `If-Match`: 404 means deleted already; a 412 reads again (gone → done).
- Attendees are written only when the user turned invitations on: Graph mails every attendee
  on a create or update that carries them, so with invitations off the event holds none.

Each write is split into the call it sends (`Call`) and the reading of the answer, so the same
rules apply to a single request and to a request inside a `$batch` (batch.py)."""

from __future__ import annotations

from calsync.providers.microsoft import wire
from calsync.providers.microsoft.changes import Lister
from calsync.providers.microsoft.http import Answer, Call, GraphHttp, path
from calsync.sync.model import Event
from calsync.sync.provider import AlreadyExists, EventNotFound, PreconditionFailed, ProviderError


def _same(sent: Event, got: Event) -> bool:
    """Whether the event Graph returned for a create is the one we sent (not an older one)."""
    if (sent.summary, sent.all_day) != (got.summary, got.all_day):
        return False
    if sent.all_day:
        return (sent.start_date, sent.end_date) == (got.start_date, got.end_date)
    return (sent.start, sent.end) == (got.start, got.end)


class Writer:
    def __init__(self, http: GraphHttp, lister: Lister) -> None:
        self.http = http
        self.lister = lister

    def send(self, call: Call) -> Answer:
        response = self.http.send(call.method, call.url, params=call.params or None, json=call.json,
                                  headers=call.headers)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        return Answer(response.status_code, body, dict(response.headers))

    def _written(self, event: Event, answer: Answer, what: str) -> Event:
        if answer.status in (200, 201) and isinstance(answer.body, dict):
            written = wire.to_event(event.calendar_id, answer.body)
            written.activity_uuid = written.activity_uuid or event.activity_uuid
            return written
        if answer.status == 403:
            raise ProviderError(f"Outlook does not allow this {what}: is the calendar read-only for you? "
                                f"({answer.message()})")
        raise ProviderError(f"Microsoft Graph refused the {what} (HTTP {answer.status}): {answer.message()}")

    # ------------------------------------------------------------------ create

    def create_call(self, event: Event, send_invitations: bool) -> Call:
        if not event.activity_uuid:
            raise ValueError("create_event needs event.activity_uuid (the transactionId is derived from it)")
        return Call("POST", path("me", "calendars", event.calendar_id, "events"),
                    json=wire.create_body(event, attendees=send_invitations))

    def created(self, event: Event, answer: Answer) -> Event:
        written = self._written(event, answer, "create")
        if not _same(event, written):
            raise AlreadyExists(f"an event for activity {event.activity_uuid} exists already ({written.event_id})")
        return written

    def create(self, event: Event, *, send_invitations: bool) -> Event:
        return self.created(event, self.send(self.create_call(event, send_invitations)))

    # ------------------------------------------------------------------ update

    @staticmethod
    def _target(event: Event) -> str:
        """The Graph id to write: the event's, or for an occurrence its own id."""
        if event.recurrence_id and isinstance(event.raw, dict) and event.raw.get("id"):
            return str(event.raw["id"])
        if event.recurrence_id:
            raise EventNotFound(f"the occurrence {event.recurrence_id} of {event.event_id} has no Graph id")
        return event.event_id

    def update_call(self, event: Event, etag: str | None, send_invitations: bool) -> Call:
        previous = event.raw if isinstance(event.raw, dict) else None
        body = wire.to_body(event, previous=previous, attendees=send_invitations)
        return Call("PATCH", path("me", "calendars", event.calendar_id, "events", self._target(event)),
                    json=body, headers={"If-Match": etag} if etag else {})

    def updated(self, event: Event, answer: Answer) -> Event:
        target = self._target(event)
        if answer.status in (404, 410):
            raise EventNotFound(f"the event {target} is no longer in the calendar")
        if answer.status == 412:
            if self.lister.get(event.calendar_id, target) is None:
                raise EventNotFound(f"the event {target} was deleted in the calendar")
            raise PreconditionFailed(f"the event {target} changed in the calendar since it was read")
        return self._written(event, answer, "update")

    def update(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        return self.updated(event, self.send(self.update_call(event, etag, send_invitations)))

    # ------------------------------------------------------------------ delete

    @staticmethod
    def delete_call(calendar_id: str, event_id: str, etag: str | None) -> Call:
        return Call("DELETE", path("me", "calendars", calendar_id, "events", event_id),
                    headers={"If-Match": etag} if etag else {})

    def deleted(self, calendar_id: str, event_id: str, answer: Answer) -> None:
        if answer.status in (200, 204, 404, 410):
            return
        if answer.status == 412:
            if self.lister.get(calendar_id, event_id) is None:
                return
            raise PreconditionFailed(f"the event {event_id} changed in the calendar since it was read")
        raise ProviderError(f"Microsoft Graph refused to delete {event_id} (HTTP {answer.status}): {answer.message()}")

    def delete(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        self.deleted(calendar_id, event_id, self.send(self.delete_call(calendar_id, event_id, etag)))
