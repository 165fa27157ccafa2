"""The engine against the Google provider on the Calendar emulator: the fixed point holds
through Google's JSON, edits and deletions flow both ways, an idle sync costs one request and an
expired sync token (410) ends in a full resync that neither duplicates nor deletes anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from calsync.store.tables import SyncAccount
from calsync.web.context import AppContext
from tests.support.google_emulator import GoogleEmulator, google_emulator
from tests.support.harness import GoogleHarness
from tests.sync.emulated_engine import A, calls, linked, listed, mark
from tests.sync.harness import Harness, soon


@pytest.fixture(scope="module")
def emu() -> Iterator[GoogleEmulator]:
    with google_emulator() as emulator:
        yield emulator


@pytest.fixture
def google(emu: GoogleEmulator) -> Iterator[GoogleHarness]:
    side = GoogleHarness(emu)
    yield side
    side.close()


@pytest.fixture
def hc(sync_context: AppContext, google: GoogleHarness, emu: GoogleEmulator) -> Harness:
    """A user whose account syncs with a fresh calendar on the emulator."""
    return linked(sync_context, "google", google, emu.open)


def test_two_way_sync_edits_and_deletions_both_ways(hc: Harness, google: GoogleHarness, emu: GoogleEmulator) -> None:
    aid = hc.create(A, "Call Bob", public_description="Agenda\n- prices", location="Room 1",
                    attendees=[{"email": "carol@example.com", "name": "Carol"}])
    gone = hc.create(A, "Lunch with Dan")
    hc.create(A, "Offsite", all_day=True, start=soon(24 * 3), hours=48)
    google.put_single("Dentist", soon(5), soon(6), privacy="private")
    first = hc.sync(A)
    assert first.status == "ok" and (first.pushed, first.pulled) == (3, 1), first.entries
    assert sorted(e.summary for e in listed(google)) == ["Call Bob", "Dentist", "Lunch with Dan", "Offsite"]
    again = hc.sync(A, full=True)
    assert again.status == "ok" and again.writes == 0, again.entries

    events = {e.summary: e for e in listed(google)}
    assert events["Call Bob"].activity_uuid == hc.activity(aid).uuid
    assert events["Offsite"].all_day and events["Offsite"].end_date == events["Offsite"].start_date + dt.timedelta(days=2)  # type: ignore[operator]
    dentist = next(a for a in hc.activities(A) if a.subject == "Dentist")

    google.edit_summary(events["Call Bob"].event_id, "Call Bob (moved)")
    google.delete(events["Dentist"].event_id)
    pulled = hc.sync(A)
    assert pulled.status == "ok", pulled.entries
    assert hc.activity(aid).subject == "Call Bob (moved)"
    assert hc.activity(dentist.id).deleted

    hc.edit(A, aid, subject="Call Bob (agreed)")
    hc.delete(A, gone)
    pushed = hc.sync(A)
    assert pushed.status == "ok" and pushed.writes == 2, pushed.entries
    assert sorted(e.summary for e in listed(google)) == ["Call Bob (agreed)", "Offsite"]

    hc.sync(A)  # takes in the echo of this side's writes
    before = mark(emu)
    idle = hc.sync(A)
    assert idle.status == "ok" and idle.writes == 0, idle.entries
    assert calls(emu, before) == [("GET", "events", 200)]


def test_writes_send_no_invitations_and_carry_if_match(hc: Harness, google: GoogleHarness, emu: GoogleEmulator) -> None:
    aid = hc.create(A, "Call Bob", attendees=[{"email": "carol@example.com", "name": "Carol"}])
    before = mark(emu)
    hc.sync(A)
    hc.edit(A, aid, subject="Call Bob (moved)")
    hc.sync(A)
    calls = [p for r in emu.requests(before) for p in (r["parts"] if r["path"] == "/batch/calendar/v3" else [r])]
    writes = [r for r in calls if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]
    assert [r["method"] for r in writes] == ["POST", "PATCH"]
    assert all(r["query"].get("sendUpdates") == ["none"] for r in writes)
    assert writes[1]["headers"].get("if-match")


def test_an_expired_sync_token_ends_in_a_full_resync_without_duplicates_or_deletions(
        hc: Harness, google: GoogleHarness, emu: GoogleEmulator) -> None:
    for n in range(3):
        hc.create(A, f"Call {n}")
    for n in range(2):
        google.put_single(f"Meeting {n}", soon(10 + n), soon(11 + n))
    google.put_daily_series("Standup", soon(20), 3)
    assert hc.sync(A).status == "ok"
    hc.sync(A)
    activities = sorted(a.subject for a in hc.activities(A))
    events = sorted(e.summary for e in listed(google))
    assert len(activities) == 8 and len(events) == 8

    emu.post("/expire-sync-tokens")
    google.put_single("Meeting late", soon(30), soon(31))
    before = mark(emu)
    resync = hc.sync(A)
    assert resync.status == "ok", resync.entries
    assert (resync.pulled, resync.pushed, resync.deleted) == (1, 0, 0), resync
    listing = [(m, s) for m, _, s in calls(emu, before)]
    assert listing[0] == ("GET", 410) and all(m == "GET" and s == 200 for m, s in listing[1:])
    assert sorted(a.subject for a in hc.activities(A)) == sorted(activities + ["Meeting late"])
    assert hc.activities(A, deleted=True) == []
    assert sorted(e.summary for e in listed(google)) == sorted(events + ["Meeting late"])


def test_moved_and_cancelled_occurrences_reach_their_activities(hc: Harness, google: GoogleHarness) -> None:
    series = google.put_daily_series("Standup", soon(20), 4)
    hc.sync(A)
    occurrences = sorted((a for a in hc.activities(A) if a.subject == "Standup"), key=lambda a: a.span_start)
    assert len(occurrences) == 4
    instances = sorted((e for e in listed(google) if e.series_id == series), key=lambda e: e.start)  # type: ignore[arg-type, return-value]
    google.move_occurrence(series, instances[1].recurrence_id, soon(50), soon(51))
    google.cancel_occurrence(series, instances[2].recurrence_id)
    summary = hc.sync(A)
    assert summary.status == "ok", summary.entries
    live = sorted(a.subject for a in hc.activities(A))
    assert live == ["Standup", "Standup", "moved"]
    google.delete(series)
    hc.sync(A)
    assert hc.activities(A) == []


def test_a_pulled_google_edit_keeps_the_activitys_conference_link(hc: Harness, google: GoogleHarness,
                                                                  emu: GoogleEmulator) -> None:
    """Google cannot carry a conference link we write (it makes its own), so the provider declares
    `conference_url` unmapped: an edit pulled from Google leaves the link on the activity, and
    the pair does not loop (idle runs write nothing)."""
    link = "https://zoom.example.com/j/42"
    aid = hc.create(A, "Call Bob", conference_meeting_url=link)
    assert hc.sync(A).pushed == 1
    [event] = [e for e in listed(google) if e.summary == "Call Bob"]
    assert event.conference_url == ""  # not written: Google makes conference links itself
    google.edit_summary(event.event_id, "Call Bob (moved)")
    pulled = hc.sync(A)
    assert pulled.status == "ok" and pulled.pulled == 1, pulled.entries
    activity = hc.activity(aid)
    assert (activity.subject, activity.conference_url) == ("Call Bob (moved)", link)
    hc.sync(A)
    again = hc.sync(A, full=True)
    assert again.status == "ok" and again.writes == 0, again.entries
    hc.edit(A, aid, conference_meeting_url="https://zoom.example.com/j/43")
    changed = hc.sync(A)
    assert changed.status == "ok" and changed.writes == 0, changed.entries  # nothing Google could hold
    assert hc.activity(aid).conference_url == "https://zoom.example.com/j/43"


def test_an_occurrence_moved_beyond_the_horizon_keeps_its_activity(hc: Harness, google: GoogleHarness) -> None:
    series = google.put_daily_series("Standup", soon(20), 3)
    hc.sync(A)
    first = min((e for e in listed(google) if e.series_id == series), key=lambda e: e.start)  # type: ignore[arg-type, return-value]
    google.move_occurrence(series, first.recurrence_id, soon(24 * 400), soon(24 * 400 + 1))
    summary = hc.sync(A)
    assert summary.status == "ok" and summary.deleted == 0, summary.entries
    assert len(hc.activities(A)) == 3 and hc.activities(A, deleted=True) == []


def google_status(google: GoogleHarness, event_id: str) -> str:
    return str(google.provider.lister.get(google.calendar_id, event_id)["status"])  # type: ignore[index]


def cancel_deletions(hc: Harness) -> None:
    from calsync.store.tables import User
    from calsync.sync import accounts as sync_accounts

    with hc.session() as s:
        sync_accounts.decide_deletions(s, s.get(User, hc.users[A]), "cancelled")


def test_an_activity_restored_from_the_trash_gets_its_deleted_google_event_back(hc: Harness, google: GoogleHarness) -> None:
    from calsync.crm.services import activities as activity_service
    from calsync.store.tables import User

    aid = hc.create(A, "Call Bob")
    hc.sync(A)
    [event] = listed(google)
    hc.delete(A, aid)
    assert hc.sync(A).deleted == 1 and google_status(google, event.event_id) == "cancelled"
    with hc.session() as s:
        activity_service.restore_activity(s, s.get(User, hc.users[A]), aid)
    back = hc.sync(A)
    assert back.status == "ok" and back.pushed == 1, back.entries
    assert google_status(google, event.event_id) == "confirmed"  # the same Google event, undeleted
    assert [(e.event_id, e.summary) for e in listed(google)] == [(event.event_id, "Call Bob")]
    assert hc.sync(A, full=True).writes == 0


def test_ticking_a_type_again_brings_its_deleted_google_events_back(hc: Harness, google: GoogleHarness) -> None:
    aid = hc.create(A, "Call Bob")
    hc.sync(A)
    [event] = listed(google)
    hc.settings(A, push_types=["meeting"])
    assert hc.sync(A).deleted == 1 and listed(google) == []
    hc.settings(A, push_types=None)
    back = hc.sync(A)
    assert back.status == "ok" and back.pushed == 1, back.entries
    assert [(e.event_id, e.activity_uuid) for e in listed(google)] == [(event.event_id, hc.activity(aid).uuid)]


def test_cancelled_deletions_put_google_events_back(hc: Harness, google: GoogleHarness) -> None:
    ids = [hc.create(A, "Call Bob"), hc.create(A, "Lunch with Dan")]
    hc.sync(A)
    events = listed(google)
    for e in events:
        google.delete(e.event_id)
    asked = hc.sync(A, full=True)
    assert asked.status == "needs_confirmation", asked.entries
    cancel_deletions(hc)
    kept = hc.sync(A)  # incremental: it does not meet the emptied-calendar guard, the answer holds all the same
    assert kept.status == "ok" and kept.pushed == 2, kept.entries
    assert sorted(e.event_id for e in listed(google)) == sorted(e.event_id for e in events)
    assert all(not hc.activity(i).deleted for i in ids)


def test_cancelled_deletions_put_a_series_deleted_in_google_back(hc: Harness, google: GoogleHarness) -> None:
    series = google.put_daily_series("Standup", soon(20), 3)
    hc.sync(A)
    first = min((e for e in listed(google) if e.series_id == series), key=lambda e: e.start)  # type: ignore[arg-type, return-value]
    google.move_occurrence(series, first.recurrence_id, soon(22), soon(23))
    hc.sync(A)
    before = sorted((a.id, a.subject, a.span_start) for a in hc.activities(A))
    assert len(before) == 3
    google.delete(series)
    asked = hc.sync(A, full=True)
    assert asked.status == "needs_confirmation", asked.entries
    cancel_deletions(hc)
    restored = hc.sync(A, full=True)
    assert restored.status == "ok" and restored.pushed == 1, restored.entries
    assert google_status(google, series) == "confirmed"
    assert len([e for e in listed(google) if e.series_id == series]) == 3  # the moved one too
    again = hc.sync(A, full=True)
    assert again.status == "ok" and again.writes == 0 and again.deleted == 0, again.entries
    assert sorted((a.id, a.subject, a.span_start) for a in hc.activities(A)) == before
    assert hc.activities(A, deleted=True) == []


@pytest.fixture
def stored(hc: Harness, google: GoogleHarness, emu: GoogleEmulator) -> Iterator[Harness]:
    """The account's Google credentials stored encrypted, opened the way the app opens them."""
    import json

    from calsync.providers.google.factory import GoogleFactory
    from calsync.sync import registry
    from calsync.sync.credentials import opener_with_store

    previous = registry.get("google")
    registry.register(GoogleFactory(emu.settings))
    box = hc.context.box
    with hc.session() as s:
        s.execute(update(SyncAccount).where(SyncAccount.id == hc.account(A).id).values(
            credentials_encrypted=box.encrypt(json.dumps(google.credentials))))
    hc.engine.opener = opener_with_store(box, hc.context.sessions)
    yield hc
    registry.register(previous)


def stored_credentials(hc: Harness) -> dict[str, Any]:
    import json

    return dict(json.loads(hc.context.box.decrypt(hc.account(A).credentials_encrypted)))


def test_rotated_refresh_tokens_are_stored_so_the_next_run_still_works(stored: Harness, emu: GoogleEmulator) -> None:
    emu.post("/oauth", {"rotate_refresh_tokens": True})
    try:
        first = stored_credentials(stored)["refresh_token"]
        stored.create(A, "Call Bob")
        emu.post("/expire-access-tokens")
        assert stored.sync(A).status == "ok"
        second = stored_credentials(stored)["refresh_token"]
        assert second != first  # the old one answers invalid_grant from now on
        emu.post("/expire-access-tokens")
        run = stored.sync(A)
        assert run.status == "ok", run
        assert stored_credentials(stored)["refresh_token"] not in (first, second)
    finally:
        emu.post("/oauth", {"rotate_refresh_tokens": False})


def test_a_revoked_grant_stops_the_account_with_words_to_reconnect(stored: Harness, emu: GoogleEmulator) -> None:
    assert stored.sync(A).status == "ok"
    emu.post("/revoke", {"user": "a@example.com"})
    run = stored.sync(A)
    assert run.status == "auth_error" and "reconnect Google Calendar" in (run.message or "")
    account = stored.account(A)
    assert account.state == "auth_error" and "reconnect Google Calendar" in (account.last_error or "")
    assert stored.sync(A).status == "auth_error"  # no retries until the user reconnects


def test_many_pushes_go_out_as_batches_of_fifty(hc: Harness, google: GoogleHarness, emu: GoogleEmulator) -> None:
    ids = [hc.create(A, f"Call {n}", start=soon(2 + n)) for n in range(60)]
    before = mark(emu)
    first = hc.sync(A)
    assert first.status == "ok" and first.pushed == 60, first.entries
    log = emu.requests(before)
    assert [(r["method"], r["path"].rsplit("/", 1)[-1], len(r["parts"] or [])) for r in log] == [
        ("GET", "events", 0), ("POST", "v3", 50), ("POST", "v3", 10)]
    assert all(p["query"]["sendUpdates"] == ["none"] for r in log[1:] for p in r["parts"])
    hc.sync(A)  # the echo

    for aid in ids:
        hc.edit(A, aid, subject=f"Call {aid} (moved)")
    taken = next(e for e in listed(google) if e.summary == f"Call {ids[7] - ids[0]}")
    google.edit_summary(taken.event_id, "edited in Google meanwhile")
    before = mark(emu)
    second = hc.sync(A)
    assert second.status == "ok", second.entries
    log = emu.requests(before)
    # the listing and two batches of writes, no reads (the CRM holds no cut copy of any field);
    # the event edited in Google after the CRM edit is the newer change and is taken in, not overwritten
    assert [(r["method"], len(r["parts"] or [])) for r in log] == [("GET", 0), ("POST", 50), ("POST", 9)]
    assert all(p["method"] == "PATCH" and p["headers"].get("if-match") for p in log[1]["parts"] + log[2]["parts"])
    summaries = sorted(e.summary for e in listed(google))
    assert summaries.count("edited in Google meanwhile") == 1 and sum(s.endswith("(moved)") for s in summaries) == 59
    settled = [hc.sync(A) for _ in range(2)][-1]
    assert settled.status == "ok" and settled.writes == 0, settled.entries


def test_one_refused_part_of_a_batch_leaves_the_others_written(hc: Harness, google: GoogleHarness,
                                                               emu: GoogleEmulator) -> None:
    ids = [hc.create(A, f"Call {n}", start=soon(2 + n)) for n in range(5)]
    hc.sync(A)
    hc.sync(A)
    for aid in ids:
        hc.edit(A, aid, subject=f"Call {aid} (moved)")
    emu.post("/faults", {"status": 412, "count": 1, "methods": ["PATCH"]})
    emu.post("/faults", {"status": 400, "count": 1, "methods": ["PATCH"], "reason": "invalid"})
    try:
        run = hc.sync(A)
    finally:
        emu.control.delete("/faults")
    assert run.status == "provider_error" and run.pushed == 3, run.entries
    kinds = sorted(e["kind"] for e in run.entries)
    assert kinds == ["error", "skip"], run.entries
    assert sum(e.summary.endswith("(moved)") for e in listed(google)) == 3
    again = hc.sync(A)
    assert again.status == "ok" and again.pushed == 2, again.entries
    assert sum(e.summary.endswith("(moved)") for e in listed(google)) == 5
