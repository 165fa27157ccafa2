"""Writes to a Google calendar, each with a precondition.

- insert under the id derived from the activity UUID (`wire.event_id_for`): a repeated create
  answers 409 → AlreadyExists. Google keeps a deleted event as `cancelled` and its id stays
  taken, so a create whose id belongs to a *cancelled* event restores that event instead (one
  PATCH with `If-Match`), which is what re-pushing a restored activity needs.
- patch with `If-Match: <etag>` (412 → PreconditionFailed; a cancelled or missing event →
  EventNotFound); only the mapped fields are sent, so what we do not map survives.
- delete with `If-Match` (412 → PreconditionFailed unless the event is already gone; 404/410
  mean deleted already).
- `sendUpdates=none` unless the user turned invitations on (then `all`)."""

from __future__ import annotations

from typing import Any

from calsync.providers.google import wire
from calsync.providers.google.changes import Lister
from calsync.providers.google.http import GoogleHttp, message, path
from calsync.sync.model import Event
from calsync.sync.provider import AlreadyExists, EventNotFound, PreconditionFailed, ProviderError


def _send_updates(send_invitations: bool) -> dict[str, str]:
    return {"sendUpdates": "all" if send_invitations else "none"}


class Writer:
    def __init__(self, http: GoogleHttp, lister: Lister) -> None:
        self.http = http
        self.lister = lister

    def _result(self, calendar_id: str, response: Any, what: str) -> Event:
        if response.status_code == 200:
            return wire.to_event(calendar_id, response.json(), self.lister.zones.get(calendar_id))
        if response.status_code == 403:
            raise ProviderError(f"Google Calendar does not allow this {what}: is the calendar read-only for you? "
                                f"({message(response)})")
        raise ProviderError(f"Google Calendar refused the {what} (HTTP {response.status_code}): {message(response)}")

    def create(self, event: Event, *, send_invitations: bool) -> Event:
        if not event.activity_uuid:
            raise ValueError("create_event needs event.activity_uuid (the event id is derived from it)")
        event_id = wire.event_id_for(event.activity_uuid)
        body = wire.without_nulls({**wire.to_body(event), "id": event_id})
        response = self.http.send("POST", path("calendars", event.calendar_id, "events"),
                                  params=_send_updates(send_invitations), json=body)
        if response.status_code == 409:
            existing = self.lister.get(event.calendar_id, event_id)
            if existing is not None and existing.get("status") == "cancelled":
                return self._undelete(event, existing, send_invitations)
            raise AlreadyExists(f"an event for activity {event.activity_uuid} exists already ({event_id})")
        return self._result(event.calendar_id, response, "create")

    def _undelete(self, event: Event, existing: dict[str, Any], send_invitations: bool) -> Event:
        body = wire.to_body(event, previous=existing)
        response = self.http.send("PATCH", path("calendars", event.calendar_id, "events", existing["id"]),
                                  params=_send_updates(send_invitations), json=body,
                                  headers={"If-Match": str(existing.get("etag", "*"))})
        if response.status_code == 412:
            raise AlreadyExists(f"the deleted event for activity {event.activity_uuid} changed while restoring it")
        return self._result(event.calendar_id, response, "restore of a deleted event")

    def _target(self, event: Event) -> str:
        """The Google id to write: the event's, or for an occurrence the instance's own id."""
        if event.recurrence_id and isinstance(event.raw, dict) and event.raw.get("id"):
            return str(event.raw["id"])
        if event.recurrence_id:
            raise EventNotFound(f"the occurrence {event.recurrence_id} of {event.event_id} has no Google id")
        return event.event_id

    def update(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        target = self._target(event)
        previous = event.raw if isinstance(event.raw, dict) else None
        body = wire.to_body(event, previous=previous)
        if event.status != "tentative" and (previous or {}).get("status") != "tentative":
            del body["status"]  # never turns an event deleted meanwhile back to confirmed
        headers = {"If-Match": etag} if etag else {}
        response = self.http.send("PATCH", path("calendars", event.calendar_id, "events", target),
                                  params=_send_updates(send_invitations), json=body, headers=headers)
        if response.status_code in (404, 410):
            raise EventNotFound(f"the event {target} is no longer in the calendar")
        if response.status_code == 412:
            current = self.lister.get(event.calendar_id, target)
            if current is None or current.get("status") == "cancelled":
                raise EventNotFound(f"the event {target} was deleted in the calendar")
            raise PreconditionFailed(f"the event {target} changed in the calendar since it was read")
        written = self._result(event.calendar_id, response, "update")
        if written.raw and written.raw.get("status") == "cancelled":
            raise EventNotFound(f"the event {target} was deleted in the calendar")
        return written

    def delete(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        headers = {"If-Match": etag} if etag else {}
        response = self.http.send("DELETE", path("calendars", calendar_id, "events", event_id),
                                  params=_send_updates(False), headers=headers)
        if response.status_code in (200, 204, 404, 410):
            return
        if response.status_code == 412:
            current = self.lister.get(calendar_id, event_id)
            if current is None or current.get("status") == "cancelled":
                return
            raise PreconditionFailed(f"the event {event_id} changed in the calendar since it was read")
        raise ProviderError(f"Google Calendar refused to delete {event_id} (HTTP {response.status_code}): "
                            f"{message(response)}")
