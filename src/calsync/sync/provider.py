"""The Protocol every calendar provider speaks, and the errors it raises. A provider turns its
wire format into neutral events and back; it never decides anything about sync."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from calsync.sync.model import CalendarInfo, ChangeSet, Event


class ProviderError(Exception):
    """A provider call failed for a reason that may pass (5xx, timeout, network): retry later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class RateLimited(ProviderError):
    """429 or a quota error; `retry_after` says when to try again."""


class AuthError(ProviderError):
    """The grant expired, was revoked or the password is wrong: stop until the user reconnects."""


class CursorExpired(ProviderError):
    """The sync cursor is no longer valid (Google 410, Graph SyncStateNotFound, CalDAV
    valid-sync-token): do a full listing that re-matches by our ids."""


class PreconditionFailed(ProviderError):
    """The event changed since the etag we hold (412): refetch and decide again."""


class EventNotFound(ProviderError):
    """The event is not (or no longer) on the provider."""


class AlreadyExists(ProviderError):
    """A create hit an event with the same deterministic id (a repeated create after a crash)."""


class ConnectError(Exception):
    """Connecting failed because of what the user entered; the message says what to fix."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Window:
    """The time window listed for import: upcoming items up to the recurring horizon."""

    start: dt.datetime
    end: dt.datetime


@runtime_checkable
class CalendarProvider(Protocol):
    """One open connection to one account of a provider.

    Optional capabilities, looked up with getattr so a provider declares only what it has:
    `unmapped_fields` (frozenset of `SyncedFields` names it cannot write, e.g. Google's
    `conference_url`: the engine leaves them out of this provider's hashes and keeps the
    activity's value when an edit is pulled), `write_many` (BatchWriter), `prefetch`,
    `fetch_events`, `undelete_event` (Undeleter), `restore_series`, `watch`/`unwatch` (Watchable)."""

    name: str

    def list_calendars(self) -> list[CalendarInfo]: ...

    def list_changes(
        self, calendar_id: str, cursor: str | None, window: Window, page: str | None = None
    ) -> ChangeSet:
        """Changes since `cursor`; with no cursor, a full listing of `window` (ChangeSet.full).

        Raises CursorExpired when the cursor is no longer valid."""
        ...

    def create_event(self, event: Event, *, send_invitations: bool) -> Event:
        """Creates the event under an id derived from `event.activity_uuid`; returns it with id
        and etag. Raises AlreadyExists when that id is taken."""
        ...

    def update_event(self, event: Event, etag: str | None, *, send_invitations: bool) -> Event:
        """Replaces the mapped fields, keeping what the provider holds that we do not map.
        Raises PreconditionFailed when `etag` is stale, EventNotFound when it is gone."""
        ...

    def delete_event(self, calendar_id: str, event_id: str, etag: str | None) -> None:
        """Deletes; a missing event counts as deleted. Raises PreconditionFailed on a stale etag."""
        ...

    def get_event(self, calendar_id: str, event_id: str) -> list[Event]:
        """The event's current instances (one for a single event); empty when gone."""
        ...

    def find_by_activity_id(self, calendar_id: str, activity_uuid: str) -> Event | None: ...

    def close(self) -> None: ...


class Undeleter(Protocol):
    """Optional: for providers that keep a deleted event's id taken (Google keeps deleted events
    as `cancelled` and answers 409 to an insert under the same id, while `find_by_activity_id`
    sees only live events). The engine calls it when a create meets AlreadyExists and no live
    event carries our id: restoring an activity from the trash, ticking a pushed type again, or
    cancelling pending deletions re-create an event whose id was used before."""

    def undelete_event(self, event: Event, *, send_invitations: bool) -> Event:
        """Brings back the deleted event under the id derived from `event.activity_uuid`, written
        with `event`'s fields. Raises EventNotFound when there is no deleted event to restore,
        AlreadyExists when it is live (or changed while restoring)."""
        ...


class SeriesRestorer(Protocol):
    """Optional: puts a recurring series the calendar lost back as one object (after the user
    cancelled pending deletions). `original` is the provider's own copy kept by the engine
    (`Event.raw` when it is text, e.g. CalDAV's iCalendar object), or None when it keeps none
    (Google keeps the deleted series itself). AlreadyExists when the series is there already."""

    def restore_series(self, calendar_id: str, event_id: str, original: str | None) -> None: ...


class Watchable(Protocol):
    """Optional push support (Google watch channels, Graph subscriptions)."""

    def watch(self, calendar_id: str, address: str, token: str) -> dict[str, Any]: ...

    def unwatch(self, channel: dict[str, Any]) -> None: ...


@dataclass
class Write:
    """One write in a batch: `create`/`update` carry `event` (update also its `etag`); `delete`
    carries `calendar_id`, `event_id` and `etag`."""

    kind: str  # "create" / "update" / "delete"
    event: Event | None = None
    etag: str | None = None
    calendar_id: str = ""
    event_id: str = ""
    send_invitations: bool = False


@dataclass
class Outcome:
    """What became of one Write: the written event (create/update), or the error that the same
    single call would have raised (AlreadyExists, PreconditionFailed, EventNotFound, ...)."""

    event: Event | None = None
    error: ProviderError | None = None


class BatchWriter(Protocol):
    """Optional: many writes in few requests (Google's multipart batch). One Outcome per Write,
    in order; one failing item never fails the others."""

    def write_many(self, writes: list[Write]) -> list[Outcome]: ...


class ProviderFactory(Protocol):
    """How the product connects to one kind of provider and reopens a stored connection."""

    name: str
    label: str

    def connect(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Validates what the user entered by talking to the provider; returns the account's
        display name and the credentials to store (encrypted). Raises ConnectError."""
        ...

    def open(self, credentials: dict[str, Any]) -> CalendarProvider: ...
