"""Writes to a Google calendar, each with a precondition.

- insert under the id derived from the activity UUID (`wire.event_id_for`): a repeated create
  answers 409 → AlreadyExists. Google keeps a deleted event as `cancelled` and its id stays
  taken (409 too); `undelete` brings such an event back (one PATCH with `If-Match`), which is
  what re-pushing a restored activity needs; `restore_series` does the same for a series.
- patch with `If-Match: <etag>` (412 → PreconditionFailed; a cancelled or missing event →
  EventNotFound); only the mapped fields are sent, so what we do not map survives.
- delete with `If-Match` (412 → PreconditionFailed unless the event is already gone; 404/410
  mean deleted already).
- `sendUpdates=none` unless the user turned invitations on (then `all`).

Each write is split into the call it sends (`Call`) and the reading of the answer, so the same
rules apply to a single request and to a part of a batch (batch.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.providers.calls import Answer, Call
from calsync.providers.google import wire
from calsync.providers.google.changes import Lister
from calsync.providers.google.http import GoogleHttp, path
from calsync.sync.model import Event
from calsync.sync.provider import AlreadyExists, EventNotFound, PreconditionFailed, ProviderError, Window


SAME_DELETION = dt.timedelta(seconds=2)  # exceptions cancelled this close to their series went with it


def _send_updates(send_invitations: bool) -> dict[str, str]:
    return {"sendUpdates": "all" if send_invitations else "none"}


class Writer:
    def __init__(self, http: GoogleHttp, lister: Lister) -> None:
        self.http = http
        self.lister = lister

    def send(self, call: Call) -> Answer:
        response = self.http.send(call.method, call.url, params=call.params, json=call.json, headers=call.headers)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    def _written(self, calendar_id: str, answer: Answer, what: str) -> Event:
        if answer.status == 200 and isinstance(answer.body, dict):
            return wire.to_event(calendar_id, answer.body, self.lister.zones.get(calendar_id))
        if answer.status == 403:
            raise ProviderError(f"Google Calendar does not allow this {what}: is the calendar read-only for you? "
                                f"({answer.message()})")
        raise ProviderError(f"Google Calendar refused the {what} (HTTP {answer.status}): {answer.message()}")

    # ------------------------------------------------------------------ create

    def create_call(self, event: Event, send_invitations: bool) -> Call:
        if not event.activity_uuid:
            raise ValueError("create_event needs event.activity_uuid (the event id is derived from it)")
        body = wire.without_nulls({**wire.to_body(event), "id": wire.event_id_for(event.activity_uuid)})
        return Call("POST", path("calendars", event.calendar_id, "events"), _send_updates(send_invitations), body)

    def created(self, event: Event, answer: Answer, send_invitations: bool) -> Event:
        if answer.status == 409:
            # a live event (a repeated create) or a deleted one: Google keeps deleted ids taken;
            # the engine then adopts the first or calls undelete for the second
            raise AlreadyExists(f"an event for activity {event.activity_uuid} exists already "
                                f"({wire.event_id_for(event.activity_uuid or '')})")
        return self._written(event.calendar_id, answer, "create")

    def create(self, event: Event, *, send_invitations: bool) -> Event:
        return self.created(event, self.send(self.create_call(event, send_invitations)), send_invitations)

    def undelete(self, event: Event, *, send_invitations: bool) -> Event:
        """The cancelled event under the id derived from our activity id, confirmed again and
        written with `event`'s fields: one read and one PATCH with `If-Match`."""
        event_id = wire.event_id_for(event.activity_uuid or "")
        existing = self.lister.get(event.calendar_id, event_id)
        if existing is None:
            raise EventNotFound(f"there is no deleted event {event_id} to restore")
        if existing.get("status") != "cancelled":
            raise AlreadyExists(f"the event {event_id} is in the calendar (not deleted)")
        body = {**wire.to_body(event, previous=existing), "status": "tentative" if event.status == "tentative" else "confirmed"}
        answer = self.send(Call("PATCH", path("calendars", event.calendar_id, "events", event_id),
                                _send_updates(send_invitations), body,
                                {"If-Match": str(existing.get("etag", "*"))}))
        if answer.status == 412:
            raise AlreadyExists(f"the deleted event {event_id} changed while restoring it")
        return self._written(event.calendar_id, answer, "restore of a deleted event")

    def restore_series(self, calendar_id: str, series_id: str, window: Window) -> None:
        """A recurring series deleted in Google is kept there as `cancelled`: confirms it again
        (PATCH with `If-Match`), and with it the exceptions (moved or edited occurrences) that
        were cancelled together with it (no earlier than the series itself); occurrences
        cancelled on their own before stay cancelled."""
        master = self.lister.get(calendar_id, series_id)
        if master is None:
            raise EventNotFound(f"the series {series_id} is no longer in Google Calendar")
        if master.get("status") != "cancelled":
            raise AlreadyExists(f"the series {series_id} is in the calendar already")
        deleted_at = wire.parse_instant(master["updated"]) if master.get("updated") else None
        self._confirm(calendar_id, master, "series")
        for item in self.lister.cancelled_exceptions(calendar_id, series_id, window):
            when = wire.parse_instant(item["updated"]) if item.get("updated") else None
            if deleted_at is None or (when is not None and when >= deleted_at - SAME_DELETION):
                self._confirm(calendar_id, item, "occurrence")

    def _confirm(self, calendar_id: str, resource: dict[str, Any], what: str) -> None:
        answer = self.send(Call("PATCH", path("calendars", calendar_id, "events", str(resource["id"])),
                                _send_updates(False), {"status": "confirmed"},
                                {"If-Match": str(resource.get("etag", "*"))}))
        if answer.status == 412:
            raise PreconditionFailed(f"the {what} {resource['id']} changed while restoring it")
        if answer.status != 200:
            raise ProviderError(f"Google Calendar refused to restore the {what} (HTTP {answer.status}): {answer.message()}")

    # ------------------------------------------------------------------ update

    def _target(self, event: Event) -> str:
        """The Google id to write: the event's, or for an occurrence the instance's own id."""
        if event.recurrence_id and isinstance(event.raw, dict) and event.raw.get("id"):
            return str(event.raw["id"])
        if event.recurrence_id:
            raise EventNotFound(f"the occurrence {event.recurrence_id} of {event.event_id} has no Google id")
        return event.event_id

    def update_call(self, event: Event, etag: str | None, send_invitations: bool) -> Call:
        previous = event.raw if isinstance(event.raw, dict) else None
        body = wire.to_body(event, previous=previous)
        if event.status != "tentative" and (previous or {}).get("status") != "tentative":
            del body["status"]  # never turns an event deleted meanwhile back to confirmed
        headers = {"If-Match": etag} if etag else {}
        return Call("PATCH", path("calendars", event.calendar_id, "events", self._target(event)),
                    _send_updates(send_invitations), body, headers)

    def updated(self, event: Event, answer: Answer) -> Event:
        target = self._target(event)
        if answer.status in (404, 410):
            raise EventNotFound(f"the event {target} is no longer in the calendar")
        if answer.status == 412:
            current = self.lister.get(event.calendar_id, target)
            if current is None or current.get("status") == "cancelled":
                raise EventNotFound(f"the event {target} was deleted in the calendar")
            raise PreconditionFailed(f"the event {target} changed in the calendar since it was read")
        written = self._written(event.calendar_id, answer, "update")
        if isinstance(written.raw, dict) and written.raw.get("status") == "cancelled":
            raise EventNotFound(f"the event {target} was deleted in the calendar")
        return written

    def update(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        return self.updated(event, self.send(self.update_call(event, etag, send_invitations)))

    # ------------------------------------------------------------------ delete

    @staticmethod
    def delete_call(calendar_id: str, event_id: str, etag: str | None) -> Call:
        headers = {"If-Match": etag} if etag else {}
        return Call("DELETE", path("calendars", calendar_id, "events", event_id), _send_updates(False), None, headers)

    def deleted(self, calendar_id: str, event_id: str, answer: Answer) -> None:
        if answer.status in (200, 204, 404, 410):
            return
        if answer.status == 412:
            current = self.lister.get(calendar_id, event_id)
            if current is None or current.get("status") == "cancelled":
                return
            raise PreconditionFailed(f"the event {event_id} changed in the calendar since it was read")
        raise ProviderError(f"Google Calendar refused to delete {event_id} (HTTP {answer.status}): {answer.message()}")

    def delete(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        self.deleted(calendar_id, event_id, self.send(self.delete_call(calendar_id, event_id, etag)))
