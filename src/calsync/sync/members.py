"""Which objects a complete listing must read although its windowed answer left them out.

A provider with a membership listing (CalDAV sync-collection or etag listing) names every object
of the calendar besides the time-range answer. An object named there and absent from the answer
is either outside the window (a past event: most of a long history) or was dropped by the server
(a broken index). Linked ones are always read (point 2). Unlinked ones are read only when they
are new since the last complete listing (`sync_known_members` holds a digest of each object
named then), at most `cap` per run; the rest wait for the next run, which lists in full again,
so nothing is passed over and a calendar with years of history costs at most one bounded read
per run until every object is known."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from calsync.store.tables import SyncKnownMember
from calsync.sync.model import Event
from calsync.sync.provider import Window
from calsync.sync.reconcile import Pulled

NEW_MEMBER_READS = 1000  # unlinked objects read per run (one CalDAV multiget)


def digest(calendar_id: str, event_id: str) -> str:
    return hashlib.sha256(f"{calendar_id}\n{event_id}".encode()).hexdigest()[:16]


@dataclass
class Newcomers:
    """Unlinked objects to read in this run (`read`) and those left for the next run (`deferred`)."""

    read: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)


def newcomers(pulled: Pulled, calendar_id: str, linked_ids: set[str], known: set[str], cap: int) -> Newcomers:
    """Objects the membership listing names that the windowed answer left out, that no link
    holds, and that were not named at the last complete listing; sorted, cut at `cap`."""
    if not pulled.full or pulled.members is None:
        return Newcomers()
    listed = {e.event_id for e in pulled.events}
    fresh = sorted(
        item_id for item_id in pulled.members
        if item_id not in listed and item_id not in linked_ids and item_id not in pulled.skipped
        and item_id not in pulled.complete_series and digest(calendar_id, item_id) not in known
    )
    return Newcomers(fresh[:cap], fresh[cap:])


def in_window(event: Event, window: Window) -> bool:
    """Whether a windowed listing had to name this instance: it ends after the window opens and
    starts before it closes (all-day items by the earliest zone, UTC+14)."""
    if event.ends_before(window.start):
        return False
    if event.all_day:
        assert event.start_date is not None
        begin = dt.datetime.combine(event.start_date, dt.time(), dt.timezone.utc) - dt.timedelta(hours=14)
    else:
        assert event.start is not None
        begin = event.start
    return begin < window.end


def known(session: Session, account_id: int) -> set[str]:
    return set(session.scalars(select(SyncKnownMember.digest).where(SyncKnownMember.account_id == account_id)))


def remember(session: Session, account_id: int, calendar_id: str, ids: set[str], before: set[str]) -> None:
    """Stores `ids` as the objects known at this complete listing (`before`: what was stored),
    writing only the difference; rows of another calendar go, as they are not in `ids`."""
    now = {digest(calendar_id, item_id) for item_id in ids}
    gone = sorted(before - now)
    for start in range(0, len(gone), 500):
        session.execute(delete(SyncKnownMember).where(
            SyncKnownMember.account_id == account_id, SyncKnownMember.digest.in_(gone[start:start + 500])))
    session.add_all(SyncKnownMember(account_id=account_id, digest=d) for d in sorted(now - before))
    session.flush()
