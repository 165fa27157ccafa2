"""The engine against the Microsoft provider on the Graph emulator: edits and deletions flow both
ways, an idle sync costs one request, attendees are neither written nor lost with invitations
off, and an expired delta token (410 SyncStateNotFound) ends in a full resync that neither
duplicates nor deletes anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from calsync.web.context import AppContext
from tests.support.harness import MicrosoftHarness
from tests.support.microsoft_emulator import MicrosoftEmulator, microsoft_emulator
from tests.sync.emulated_engine import A, calls, linked, listed, mark
from tests.sync.harness import Harness, soon


@pytest.fixture(scope="module")
def emu() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator() as emulator:
        yield emulator


@pytest.fixture
def outlook(emu: MicrosoftEmulator) -> Iterator[MicrosoftHarness]:
    side = MicrosoftHarness(emu)
    yield side
    side.close()


@pytest.fixture
def hc(sync_context: AppContext, outlook: MicrosoftHarness) -> Harness:
    """A user whose account syncs with a fresh Outlook calendar on the emulator."""
    return linked(sync_context, "microsoft", outlook, outlook.factory.open)


def test_two_way_sync_edits_and_deletions_both_ways(hc: Harness, outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    aid = hc.create(A, "Call Bob", public_description="Agenda\n- prices", location="Room 1")
    gone = hc.create(A, "Lunch with Dan")
    hc.create(A, "Offsite", all_day=True, start=soon(24 * 3), hours=48)
    outlook.put_single("Dentist", soon(5), soon(6), privacy="private")
    first = hc.sync(A)
    assert first.status == "ok" and (first.pushed, first.pulled) == (3, 1), first.entries
    assert sorted(e.summary for e in listed(outlook)) == ["Call Bob", "Dentist", "Lunch with Dan", "Offsite"]
    again = hc.sync(A, full=True)
    assert again.status == "ok" and again.writes == 0, again.entries

    events = {e.summary: e for e in listed(outlook)}
    assert events["Call Bob"].activity_uuid == hc.activity(aid).uuid
    assert events["Call Bob"].location == "Room 1"
    assert events["Offsite"].all_day and events["Offsite"].end_date == events["Offsite"].start_date + dt.timedelta(days=2)  # type: ignore[operator]
    dentist = next(a for a in hc.activities(A) if a.subject == "Dentist")

    outlook.edit_summary(events["Call Bob"].event_id, "Call Bob (moved)")
    outlook.delete(events["Dentist"].event_id)
    pulled = hc.sync(A)
    assert pulled.status == "ok", pulled.entries
    assert hc.activity(aid).subject == "Call Bob (moved)"
    assert hc.activity(dentist.id).deleted

    hc.edit(A, aid, subject="Call Bob (agreed)")
    hc.delete(A, gone)
    pushed = hc.sync(A)
    assert pushed.status == "ok" and pushed.writes == 2, pushed.entries
    assert sorted(e.summary for e in listed(outlook)) == ["Call Bob (agreed)", "Offsite"]

    hc.sync(A)  # takes in the echo of this side's writes
    before = mark(emu)
    idle = hc.sync(A)
    assert idle.status == "ok" and idle.writes == 0, idle.entries
    assert calls(emu, before) == [("GET", "delta", 200)]


def test_with_invitations_off_attendees_are_not_written_nor_lost(hc: Harness, outlook: MicrosoftHarness,
                                                                  emu: MicrosoftEmulator) -> None:
    """Graph mails attendees on any write carrying them: with invitations off the event gets none
    (no mail), writes carry If-Match, and an edit pulled from Outlook keeps the activity's
    attendees (the engine treats them as a field this calendar does not carry)."""
    aid = hc.create(A, "Call Bob", attendees=[{"email": "carol@example.com", "name": "Carol"}])
    before = mark(emu)
    mails = len(emu.control.get("/mail").json()["mail"])
    assert hc.sync(A).pushed == 1
    hc.edit(A, aid, subject="Call Bob (moved)")
    hc.sync(A)
    parts = [p for r in emu.requests(before) for p in (r.get("parts") or [r])]
    writes = [r for r in parts if r["method"] in ("POST", "PATCH", "DELETE")]
    assert [r["method"] for r in writes] == ["POST", "PATCH"]
    assert all("attendees" not in (r["body"] or {}) for r in writes)
    assert writes[1]["headers"].get("if-match")
    assert len(emu.control.get("/mail").json()["mail"]) == mails
    [event] = [e for e in listed(outlook) if e.summary == "Call Bob (moved)"]
    assert event.attendees == []
    outlook.edit_summary(event.event_id, "Call Bob (Outlook)")
    pulled = hc.sync(A)
    assert pulled.status == "ok" and pulled.pulled == 1, pulled.entries
    activity = hc.activity(aid)
    assert activity.subject == "Call Bob (Outlook)"
    assert [a.email for a in activity.attendees] == ["carol@example.com"]
    assert hc.sync(A).writes == 0


def test_an_expired_delta_token_ends_in_a_full_resync_without_duplicates_or_deletions(
        hc: Harness, outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    for n in range(3):
        hc.create(A, f"Call {n}")
    for n in range(2):
        outlook.put_single(f"Meeting {n}", soon(10 + n), soon(11 + n))
    outlook.put_daily_series("Standup", soon(20), 3)
    assert hc.sync(A).status == "ok"
    hc.sync(A)
    activities = sorted(a.subject for a in hc.activities(A))
    events = sorted(e.summary for e in listed(outlook))
    assert len(activities) == 8 and len(events) == 8

    emu.post("/expire-sync-tokens")
    outlook.put_single("Meeting late", soon(30), soon(31))
    before = mark(emu)
    resync = hc.sync(A)
    assert resync.status == "ok", resync.entries
    assert (resync.pulled, resync.pushed, resync.deleted) == (1, 0, 0), resync
    listing = [(m, s) for m, _, s in calls(emu, before)]
    assert listing[0] == ("GET", 410) and all(m == "GET" and s == 200 for m, s in listing[1:])
    assert sorted(a.subject for a in hc.activities(A)) == sorted(activities + ["Meeting late"])
    assert hc.activities(A, deleted=True) == []
    assert sorted(e.summary for e in listed(outlook)) == sorted(events + ["Meeting late"])


def test_moved_and_cancelled_occurrences_reach_their_activities(hc: Harness, outlook: MicrosoftHarness) -> None:
    series = outlook.put_daily_series("Standup", soon(20), 4)
    hc.sync(A)
    occurrences = [a for a in hc.activities(A) if a.subject == "Standup"]
    assert len(occurrences) == 4
    instances = sorted((e for e in listed(outlook) if e.series_id == series), key=lambda e: e.start)  # type: ignore[arg-type, return-value]
    outlook.move_occurrence(series, instances[1].recurrence_id, soon(50), soon(51))
    outlook.cancel_occurrence(series, instances[2].recurrence_id)
    summary = hc.sync(A)
    assert summary.status == "ok", summary.entries
    assert sorted(a.subject for a in hc.activities(A)) == ["Standup", "Standup", "moved"]
    outlook.delete(series)
    hc.sync(A)
    assert hc.activities(A) == []


def test_an_event_the_crm_created_and_outlook_deleted_before_the_next_sync_leaves_the_crm(
        hc: Harness, outlook: MicrosoftHarness) -> None:
    """Graph's delta reports as deleted only what one of its rounds has shown: an event pushed
    after the delta token was taken and deleted before the next sync must still reach the CRM
    (found by tests/sync/test_scaleout_convergence.py)."""
    kept = hc.create(A, "Call Bob", start=soon(30))
    gone = hc.create(A, "Call Dan", start=soon(50))
    first = hc.sync(A)
    assert first.status == "ok" and first.pushed == 2, first.entries
    outlook.delete(next(e for e in listed(outlook) if e.summary == "Call Dan").event_id)
    second = hc.sync(A)
    assert second.status == "ok", second.entries
    assert [a.id for a in hc.activities(A)] == [kept]
    assert hc.activity(gone).deleted
    idle = hc.sync(A)
    assert idle.status == "ok" and idle.writes == 0, idle.entries
