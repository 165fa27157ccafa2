"""A few engine examples on both databases (SQLite and a real PostgreSQL)."""

from __future__ import annotations


import pytest

from calsync.sync.model import Event
from calsync.web.context import AppContext
from tests.sync.harness import Harness, soon

A = "alice@example.com"


@pytest.fixture
def hdb(context: AppContext) -> Harness:
    harness = Harness(context)
    harness.user(A)
    return harness


def test_two_way_round_trip_with_conflict_and_deletion(hdb: Harness) -> None:
    h = hdb
    h.connect(A)
    aid = h.create(A, "Call", attendees=[{"email": "Guest@Example.com", "name": "Guest"}], public_description="Agenda  ")
    h.put_event(A, "Dentist", privacy="private")
    assert h.sync(A).status == "ok"
    assert sorted(e.summary for e in h.events(A)) == ["Call", "Dentist"]
    h.edit(A, aid, subject="Call (CRM)")
    event = next(e for e in h.events(A) if e.activity_uuid == h.activity(aid).uuid)
    h.server.user_put(A, Event(**{**vars(event), "summary": "Call (calendar)"}))
    summary = h.sync(A)
    assert summary.conflicts == 1 and h.activity(aid).subject == "Call (calendar)"
    h.server.user_delete(A, "primary", event.event_id)
    h.sync(A)
    assert h.activity(aid).deleted
    assert h.sync(A).writes == 0


def test_crash_after_provider_write_is_repeated_without_duplicates(hdb: Harness) -> None:
    h = hdb
    h.connect(A)
    for n in range(3):
        h.create(A, f"Call {n}", start=soon(2 + n))

    class Crash(BaseException):
        pass

    seen = iter(range(100))

    def crash_on_second_create(method: str, phase: str) -> None:
        if method == "create_event" and phase == "after" and next(seen) == 1:
            raise Crash()

    h.server.hook = crash_on_second_create
    with pytest.raises(Crash):
        h.sync(A)
    h.server.hook = None
    assert h.sync(A).status == "ok"
    assert sorted(e.summary for e in h.events(A)) == ["Call 0", "Call 1", "Call 2"]
    assert h.sync(A).writes == 0
