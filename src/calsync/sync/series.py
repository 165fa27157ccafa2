"""Stored originals of recurring series. A series reaches the engine as one event per occurrence;
writing those back one by one (after the user cancelled pending deletions) would turn one series
into hundreds of single events. So the provider's own copy of each series (`Event.raw`, for
CalDAV the iCalendar object) is kept while the series is linked, and handed back to the
provider's optional `restore_series` to put the series back as it was."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from calsync.store.tables import SyncLink, SyncSeriesOriginal
from calsync.sync.model import Event


def remember(session: Session, account_id: int, events: list[Event]) -> None:
    """Keeps the newest copy of every series listed in this run (one row per series; written
    only when its etag moved, so an idle full listing writes nothing)."""
    latest: dict[tuple[str, str], Event] = {}
    for event in events:
        if event.series_id is not None and isinstance(event.raw, str) and event.raw:
            latest[(event.calendar_id, event.event_id)] = event
    if not latest:
        return
    ids = sorted({event_id for _, event_id in latest})
    stored: dict[tuple[str, str], SyncSeriesOriginal] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(SyncSeriesOriginal).where(
                SyncSeriesOriginal.account_id == account_id, SyncSeriesOriginal.event_id.in_(ids[start:start + 500]))):
            stored[(row.calendar_id, row.event_id)] = row
    for key, event in latest.items():
        row = stored.get(key)
        if row is None:
            session.add(SyncSeriesOriginal(account_id=account_id, calendar_id=key[0], event_id=key[1],
                                           etag=event.etag, original=event.raw))
        elif row.etag != event.etag or row.original != event.raw:
            row.etag, row.original = event.etag, event.raw
    session.flush()


def original(session: Session, account_id: int, calendar_id: str, event_id: str) -> str | None:
    row = session.scalar(select(SyncSeriesOriginal).where(
        SyncSeriesOriginal.account_id == account_id, SyncSeriesOriginal.calendar_id == calendar_id,
        SyncSeriesOriginal.event_id == event_id))
    return row.original if row is not None else None


def forget_unlinked(session: Session, account_id: int, keys: set[tuple[str, str]]) -> None:
    """Drops the stored copy of series (calendar id, event id) that no link points to any more
    (the series was deleted for good), so copies live only as long as their series is synced."""
    for calendar_id, event_id in keys:
        linked = session.scalar(select(SyncLink.id).where(
            SyncLink.account_id == account_id, SyncLink.calendar_id == calendar_id, SyncLink.event_id == event_id).limit(1))
        if linked is None:
            session.execute(delete(SyncSeriesOriginal).where(
                SyncSeriesOriginal.account_id == account_id, SyncSeriesOriginal.calendar_id == calendar_id,
                SyncSeriesOriginal.event_id == event_id))
