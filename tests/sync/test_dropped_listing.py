"""A complete listing whose windowed answer leaves out events the membership listing names (a
server with a broken time-range index): new events come in all the same, a bounded number per
run, and objects outside the window are read only once (docs/sync-engine.md, Stage 2, point 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.store.tables import SyncAccount
from calsync.sync.engine import SyncEngine
from calsync.sync.model import ChangeSet
from calsync.sync.provider import Window
from tests.sync.harness import Harness, soon

A = "alice@example.com"


class CutListing:
    """The in-memory provider with a membership listing (every object of the calendar, as CalDAV
    sync-collection gives) next to a windowed answer that leaves out the objects in `drop`."""

    def __init__(self, inner: Any, drop: set[str], read: list[str]) -> None:
        self.inner, self.drop, self.read = inner, drop, read

    def get_event(self, calendar_id: str, event_id: str) -> Any:
        self.read.append(event_id)
        return self.inner.get_event(calendar_id, event_id)

    def list_changes(self, calendar_id: str, cursor: str | None, window: Window, page: str | None = None) -> ChangeSet:
        changes: ChangeSet = self.inner.list_changes(calendar_id, cursor, window, page)
        if cursor is None:
            changes.events = [e for e in changes.events if e.event_id not in self.drop]
            if changes.next_page is None:
                changes.members = sorted({e.event_id for e in self.inner.server.events(self.inner.account, calendar_id)})
        return changes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def engine(h: Harness, drop: set[str], cap: int, read: list[str]) -> SyncEngine:
    def opener(account: SyncAccount) -> Any:
        return CutListing(h.factory.open({"account": account.account_name}), drop, read)

    return SyncEngine(h.context.sessions, opener, new_member_reads=cap)


def test_new_events_a_complete_listing_leaves_out_come_in_a_bounded_number_per_run(h: Harness) -> None:
    h.connect(A)
    h.put_event(A, "Known", start=soon(5))
    h.sync(A)
    past = h.put_event(A, "Last month", start=soon(-24 * 30), event_id="a-past").event_id
    new = {h.put_event(A, f"New {n}", start=soon(24 + n), event_id=f"b-new-{n}").event_id for n in range(3)}
    h.server.expire_cursors(A)
    read: list[str] = []
    cut = engine(h, drop=set(new), cap=2, read=read)
    account_id = h.account(A).id

    first = cut.run(account_id)
    assert first.status == "ok", first
    assert read == ["a-past", "b-new-0"]
    # objects are read in id order, 2 per run: the past one and "New 0"; the others wait, the cursor too
    assert len([a for a in h.activities(A) if a.subject.startswith("New")]) == 1
    assert any(e["kind"] == "notice" and "2 calendar items" in e["message"] for e in first.entries), first.entries
    assert h.account(A).cursor is None
    assert not any("Last month" in e["message"] + e["item"] for e in first.entries), "a past item is logged as skipped"

    read.clear()
    second = cut.run(account_id)
    assert second.status == "ok", second
    # "New 0" is linked now, so it is read as every linked item absent from the answer is; the
    # past object is known and not read again
    assert sorted(read) == ["b-new-0", "b-new-1", "b-new-2"]
    assert sorted(a.subject for a in h.activities(A)) == ["Known", "New 0", "New 1", "New 2"]
    assert h.account(A).cursor is not None

    # everything is known now: another complete listing reads only the linked items it left out
    h.server.expire_cursors(A)
    read.clear()
    assert cut.run(account_id).status == "ok"
    assert sorted(read) == ["b-new-0", "b-new-1", "b-new-2"]
    assert past not in {link.event_id for link in h.links(A)}
    assert sorted(a.subject for a in h.activities(A)) == ["Known", "New 0", "New 1", "New 2"]
