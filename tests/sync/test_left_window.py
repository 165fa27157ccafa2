"""Why an item left a listing: an event moved out of the sync window still exists (Graph's delta
reports it as removed all the same), so its activity stays; only a real deletion trashes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tests.sync.harness import Harness, soon

A = "alice@example.com"


def test_an_event_moved_out_of_the_window_keeps_its_activity(h: Harness) -> None:
    h.server.removes_outside_window = True  # a delta feed that reports moves out of range as removals
    h.connect(A)
    aid = h.create(A, "Call Bob")
    gone = h.create(A, "Lunch with Dan")
    assert h.sync(A).pushed == 2
    events = {e.summary: e for e in h.events(A)}
    far = soon(24 * 400)
    h.server.user_put(A, replace(events["Call Bob"], start=far, end=far + dt.timedelta(hours=1)))
    h.server.user_delete(A, "primary", events["Lunch with Dan"].event_id)
    summary = h.sync(A)
    assert summary.status == "ok", summary.entries
    assert not h.activity(aid).deleted  # moved beyond the horizon: still there
    assert h.activity(gone).deleted  # deleted in the calendar: trashed
    assert [link.activity_id for link in h.links(A)] == [aid]
    again = h.sync(A, full=True)
    assert again.status == "ok" and not h.activity(aid).deleted, again.entries
