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


def test_a_crm_edit_committed_by_another_connection_during_a_run_is_not_overwritten(hdb: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run has loaded the activity (it sits in the run's session) when a second connection
    commits a CRM edit; then the run writes the calendar's change. It must neither overwrite that
    edit nor mark it synced."""
    from calsync.store.tables import Activity
    from calsync.sync import repository

    h = hdb
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    event = next(e for e in h.events(A) if e.activity_uuid == h.activity(aid).uuid)
    h.server.user_put(A, Event(**{**vars(event), "summary": "Call (calendar)"}))
    real_add_linked = repository.add_linked
    loaded: list[Activity] = []

    def load_then_someone_edits(session, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_add_linked(session, *args, **kwargs)
        if not loaded:
            loaded.append(session.get(Activity, aid))  # the run's copy, read before the edit below
            h.edit(A, aid, subject="Call (CRM, meanwhile)")  # another session and connection, committed
    monkeypatch.setattr(repository, "add_linked", load_then_someone_edits)
    racing = h.sync(A)
    monkeypatch.setattr(repository, "add_linked", real_add_linked)
    assert loaded
    assert h.activity(aid).subject == "Call (CRM, meanwhile)"
    assert all(link.synced_version != h.activity(aid).version for link in h.links(A))
    assert racing.status == "retry"
    after = h.sync(A)  # both sides changed: the newer change (the CRM's) wins, and it is logged
    assert after.status == "ok" and after.conflicts == 1
    assert h.activity(aid).subject == "Call (CRM, meanwhile)"
    assert [e.summary for e in h.events(A)] == ["Call (CRM, meanwhile)"]
