"""One plain example per sync rule, named after the rule (what a user would check by hand)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from calsync.crm.errors import Conflict
from calsync.crm.services.activities import restore_activity
from calsync.store.tables import User
from calsync.sync import accounts as sync_accounts
from calsync.sync.mapping import BLOCK_START
from calsync.sync.model import Event
from tests.sync.harness import Harness, soon

A, B = "alice@example.com", "bob@example.com"
UTC = dt.timezone.utc


def subjects(h: Harness, email: str = A) -> list[str]:
    return sorted(a.subject for a in h.activities(email))


def summaries(h: Harness, account: str = A) -> list[str]:
    return sorted(e.summary for e in h.server.events(account))


def test_only_the_owners_activities_sync(h: Harness) -> None:
    h.user(B)
    h.connect(A)
    h.create(A, "Mine")
    h.create(B, "Bob's")
    h.sync(A)
    assert summaries(h) == ["Mine"]


def test_only_upcoming_items_are_taken_in_the_first_time(h: Harness) -> None:
    h.create(A, "Yesterday", start=soon(-30))
    h.create(A, "Tomorrow", start=soon(24))
    h.put_event(A, "Last week", start=soon(-24 * 7))
    h.put_event(A, "Earlier today", start=soon(-3))
    h.put_event(A, "Next week", start=soon(24 * 7))
    h.connect(A)
    summary = h.sync(A)
    assert summaries(h) == ["Earlier today", "Last week", "Next week", "Tomorrow"]
    assert subjects(h) == ["Next week", "Tomorrow", "Yesterday"]
    assert any("past events are not imported" in e["message"] for e in summary.entries)


def test_once_linked_every_change_syncs_even_into_the_past(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    past = soon(-48)
    h.edit(A, aid, start=past.isoformat(), end=(past + dt.timedelta(hours=1)).isoformat())
    h.sync(A)
    (event,) = h.events(A)
    assert event.start == past


def test_one_way_never_imports_calendar_events_but_edits_and_deletions_flow_back(h: Harness) -> None:
    h.connect(A, sync_type="one_way")
    aid = h.create(A, "Pitch")
    keep = h.create(A, "Keep")
    h.put_event(A, "Private errand")
    summary = h.sync(A)
    assert subjects(h) == ["Keep", "Pitch"]
    assert any("one-way" in e["message"] for e in summary.entries)
    pitch = next(e for e in h.events(A) if e.summary == "Pitch")
    h.server.user_put(A, Event(**{**vars(pitch), "summary": "Pitch (moved)"}))
    h.server.user_delete(A, "primary", next(e for e in h.events(A) if e.summary == "Keep").event_id)
    h.sync(A)
    assert h.activity(aid).subject == "Pitch (moved)"
    assert h.activity(keep).deleted


def test_recurring_series_become_read_only_occurrences_within_the_horizon(h: Harness) -> None:
    h.connect(A)
    start = soon(5)
    h.server.user_put_series(A, Event("primary", summary="Weekly", start=start, end=start + dt.timedelta(hours=1), timezone="UTC"))
    h.sync(A)
    occurrences = h.activities(A)
    assert 52 <= len(occurrences) <= 53  # weekly, no end: one year ahead
    assert all(a.read_only and a.series_uid and a.occurrence_id for a in occurrences)
    with pytest.raises(Conflict):
        h.edit(A, occurrences[0].id, subject="Changed here")


def test_moved_occurrences_update_and_cancelled_ones_are_removed(h: Harness) -> None:
    h.connect(A)
    start = soon(5)
    sid = h.server.user_put_series(A, Event("primary", summary="Standup", start=start, end=start + dt.timedelta(hours=1), timezone="UTC"), freq="daily", count=4)
    h.sync(A)
    rids = sorted(a.occurrence_id for a in h.activities(A))
    h.server.user_edit_occurrence(A, "primary", sid, rids[1], summary="Standup (moved)", start=start + dt.timedelta(days=1, hours=2), end=start + dt.timedelta(days=1, hours=3))
    h.server.user_cancel_occurrence(A, "primary", sid, rids[2])
    h.sync(A)
    assert subjects(h) == ["Standup", "Standup", "Standup (moved)"]
    assert [a.occurrence_id for a in h.activities(A, deleted=True)] == [rids[2]]


def test_rolling_horizon_brings_in_new_occurrences(h: Harness) -> None:
    h.engine.horizon_days = 30
    h.connect(A)
    start = soon(5)
    h.server.user_put_series(A, Event("primary", summary="Weekly", start=start, end=start + dt.timedelta(hours=1), timezone="UTC"))
    h.sync(A)
    first = len(h.activities(A))
    later = dt.datetime.now(UTC) + dt.timedelta(days=14)
    h.engine.clock = lambda: later
    h.sync(A)
    assert len(h.activities(A)) == first + 2


def test_imported_type_never_changes_also_across_reconnects(h: Harness) -> None:
    h.connect(A, import_type="lunch")
    h.put_event(A, "Sushi")
    h.sync(A)
    h.settings(A, import_type="meeting")
    with h.session() as s:
        sync_accounts.disconnect(s, s.get(User, h.users[A]))
    h.connect(A)
    h.sync(A)
    (activity,) = h.activities(A)
    assert h.type_key(activity) == "lunch"
    assert len(h.events(A)) == 1


def test_unchecking_a_pushed_type_removes_crm_born_events_of_that_type_only(h: Harness) -> None:
    h.connect(A, import_type="call")
    h.create(A, "Call Bob", type="call")
    h.create(A, "Team lunch", type="lunch")
    h.put_event(A, "From the calendar")  # imported as a call
    h.sync(A)
    h.settings(A, push_types=["lunch"])
    h.sync(A)
    assert summaries(h) == ["From the calendar", "Team lunch"]
    assert subjects(h) == ["Call Bob", "From the calendar", "Team lunch"]


def test_conflict_newer_change_wins_and_is_logged(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    h.edit(A, aid, subject="Call (CRM)")
    (event,) = h.events(A)
    h.server.user_put(A, Event(**{**vars(event), "summary": "Call (calendar)"}))  # newer
    summary = h.sync(A)
    assert h.activity(aid).subject == "Call (calendar)"
    assert summaries(h) == ["Call (calendar)"]
    assert summary.conflicts == 1 and "newer" in summary.entries[0]["message"]
    assert h.last_run(A).conflicts == 1


def test_identical_changes_on_both_sides_write_nothing(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    h.edit(A, aid, subject="Same")
    (event,) = h.events(A)
    h.server.user_put(A, Event(**{**vars(event), "summary": "Same"}))
    writes = h.server.requests["update_event"]
    summary = h.sync(A)
    assert summary.writes == 0 and summary.conflicts == 0
    assert h.server.requests["update_event"] == writes


def test_reconnect_adopts_events_with_our_ids_no_duplicates(h: Harness) -> None:
    h.connect(A)
    for n in range(3):
        h.create(A, f"Call {n}")
    h.put_event(A, "Dentist")
    h.sync(A)
    with h.session() as s:
        sync_accounts.disconnect(s, s.get(User, h.users[A]))
    h.connect(A)
    h.sync(A)
    assert summaries(h) == ["Call 0", "Call 1", "Call 2", "Dentist"]
    assert subjects(h) == ["Call 0", "Call 1", "Call 2", "Dentist"]
    assert h.server.requests["create_event"] == 3


def test_create_repeated_after_a_crash_adopts_the_first(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")

    class Crash(BaseException):
        pass

    def crash_after_create(method: str, phase: str) -> None:
        if method == "create_event" and phase == "after":
            raise Crash()

    h.server.hook = crash_after_create
    with pytest.raises(Crash):
        h.sync(A)
    h.server.hook = None
    assert len(h.events(A)) == 1 and h.links(A) == []
    h.server.expire_cursors(A)  # the next run cannot see the create as a change: it must still adopt
    h.sync(A)
    h.sync(A)
    assert len(h.events(A)) == 1
    assert [link.activity_id for link in h.links(A)] == [aid]


def test_calendar_deletion_moves_the_activity_to_the_trash_restorably(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    h.server.user_delete(A, "primary", h.events(A)[0].event_id)
    h.sync(A)
    activity = h.activity(aid)
    assert activity.deleted and activity.deleted_reason == "deleted in your calendar"
    with h.session() as s:
        restore_activity(s, s.get(User, h.users[A]), aid)
    h.sync(A)
    assert summaries(h) == ["Call"]


def _twelve_linked(h: Harness) -> list[int]:
    h.connect(A)
    ids = [h.create(A, f"Call {n}") for n in range(12)]
    h.sync(A)
    return ids


def test_mass_deletion_stops_in_needs_confirmation_until_confirmed(h: Harness) -> None:
    ids = _twelve_linked(h)
    for event in h.events(A)[:11]:
        h.server.user_delete(A, "primary", event.event_id)
    summary = h.sync(A)
    assert summary.status == "needs_confirmation" and "11 of 12" in (summary.message or "")
    assert h.account(A).state == "needs_confirmation"
    assert h.sync(A).status == "needs_confirmation"  # waits for the user
    assert all(not h.activity(i).deleted for i in ids)
    with h.session() as s:
        sync_accounts.decide_deletions(s, s.get(User, h.users[A]), "confirmed")
    assert h.sync(A).status == "ok"
    assert sum(h.activity(i).deleted for i in ids) == 11


def test_mass_deletion_cancelled_puts_the_events_back(h: Harness) -> None:
    _twelve_linked(h)
    for event in h.events(A):
        h.server.user_delete(A, "primary", event.event_id)
    assert h.sync(A).status == "needs_confirmation"
    with h.session() as s:
        sync_accounts.decide_deletions(s, s.get(User, h.users[A]), "cancelled")
    assert h.sync(A).status == "ok"
    assert len(h.events(A)) == 12 and len(h.activities(A)) == 12


def test_an_emptied_calendar_is_suspicious(h: Harness) -> None:
    h.connect(A)
    h.create(A, "One")
    h.create(A, "Two")
    h.sync(A)
    for event in h.events(A):
        h.server.user_delete(A, "primary", event.event_id)
    h.server.expire_cursors(A)  # a full listing that finds nothing
    summary = h.sync(A)
    assert summary.status == "needs_confirmation" and "no events" in (summary.message or "")


def test_an_emptied_calendar_asks_only_when_two_items_would_be_deleted(h: Harness) -> None:
    h.connect(A)
    one = h.create(A, "One")
    h.create(A, "Two")
    h.sync(A)
    h.delete(A, one)  # deleted in the CRM as well: that pair just goes, no deletion is left to ask about
    for event in h.events(A):
        h.server.user_delete(A, "primary", event.event_id)
    h.server.expire_cursors(A)
    summary = h.sync(A)
    assert summary.status == "ok", summary
    assert sorted(a.subject for a in h.activities(A, deleted=True)) == ["One", "Two"]


def test_activities_given_away_whose_events_lie_before_the_window_leave_without_a_question(h: Harness) -> None:
    """Giving activities away is the CRM's own request to remove their events. When their events
    already lie before the window, a complete listing is empty, yet that is no emptied calendar:
    the events go without asking the user to confirm anything (soak seed 1004)."""
    from calsync.crm.schemas import ActivityUpdate
    from calsync.crm.services.activities import update_activity
    from calsync.store.tables import User
    from calsync.sync.engine import SyncEngine

    boss = "boss@example.com"
    h.user(B)
    h.user(boss, admin=True)
    h.connect(A)
    given = [h.create(A, "One"), h.create(A, "Two")]
    h.sync(A)
    assert summaries(h) == ["One", "Two"]
    with h.session() as s:
        for aid in given:
            update_activity(s, s.get(User, h.users[boss]), aid, ActivityUpdate(owner_id=h.users[B]), source="api")
    later = dt.datetime.now(UTC) + dt.timedelta(hours=118)  # both events now end before the window opens
    h.engine = SyncEngine(h.context.sessions, lambda account: h.factory.open({"account": account.account_name}),
                          clock=lambda: later)
    h.server.expire_cursors(A)  # a complete listing, which holds no event of the window
    summary = h.sync(A)
    assert summary.status == "ok", summary
    assert summaries(h) == []


def test_expired_grant_sets_auth_error_and_stops_retries_until_reconnect(h: Harness) -> None:
    h.connect(A)
    h.server.revoke(A)
    summary = h.sync(A)
    assert summary.status == "auth_error"
    account = h.account(A)
    assert account.state == "auth_error" and "reconnect" in (account.last_error or "")
    calls = sum(h.server.requests.values())
    assert h.sync(A).status == "auth_error" and sum(h.server.requests.values()) == calls
    h.server.grant(A)
    h.connect(A)
    assert h.sync(A).status == "ok"


@pytest.mark.parametrize("kind", ["5xx", "429", "timeout"])
def test_provider_errors_set_provider_error_in_plain_words_and_recover(h: Harness, kind: str) -> None:
    h.connect(A)
    h.create(A, "Call")
    h.server.fail(kind, method="list_changes")
    summary = h.sync(A)
    account = h.account(A)
    assert summary.status == account.state == "provider_error"
    assert account.last_error and "calendar provider" in account.last_error
    if kind == "429":
        assert summary.retry_after == 1.0
    assert h.sync(A).status == "ok" and h.account(A).last_success_at is not None
    assert summaries(h) == ["Call"]


def test_sync_writes_never_notify_attendees_unless_invitations_are_on(h: Harness) -> None:
    h.connect(A)
    seen: list[bool] = []
    original = h.engine.opener

    def opener(account):  # type: ignore[no-untyped-def]
        provider = original(account)
        provider.send_invitations_seen = seen
        return provider

    h.engine.opener = opener
    h.create(A, "Call", attendees=[{"email": "guest@example.com"}])
    h.sync(A)
    h.settings(A, send_invitations=True)
    h.create(A, "Second")
    h.sync(A)
    assert seen == [False, True]


def test_an_etag_bump_without_an_edit_is_not_a_change(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    h.edit(A, aid, subject="Edited in CRM")
    h.server.user_touch(A, "primary", h.events(A)[0].event_id)
    summary = h.sync(A)
    assert summary.conflicts == 0 and summaries(h) == ["Edited in CRM"]


def test_an_expired_cursor_means_a_full_resync_without_duplicates_or_deletions(h: Harness) -> None:
    h.connect(A)
    h.create(A, "Call")
    h.put_event(A, "Dentist")
    h.sync(A)
    h.server.expire_cursors(A)
    summary = h.sync(A)
    assert summary.writes == 0 and any("expired" in e["message"] for e in summary.entries)
    assert summaries(h) == subjects(h) == ["Call", "Dentist"]


def test_a_listing_cut_short_deletes_nothing(h: Harness) -> None:
    h.server.page_size = 2
    h.connect(A)
    for n in range(5):
        h.put_event(A, f"Event {n}")
    h.sync(A)
    h.server.expire_cursors(A)
    calls = iter(range(100))

    def fail_second_page(method: str, phase: str) -> None:
        if method == "list_changes" and phase == "before" and next(calls) == 1:
            raise __import__("calsync.sync.provider", fromlist=["ProviderError"]).ProviderError("503")

    h.server.hook = fail_second_page
    assert h.sync(A).status == "provider_error"
    h.server.hook = None
    assert len(h.activities(A)) == 5 and h.activities(A, deleted=True) == []


def test_a_stale_etag_412_is_reconciled_on_the_next_run(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    h.edit(A, aid, subject="From CRM")

    def race(method: str, phase: str) -> None:
        if method == "update_event" and phase == "before":
            h.server.hook = None
            event = h.events(A)[0]
            h.server.user_put(A, Event(**{**vars(event), "location": "Room 2"}))

    h.server.hook = race
    summary = h.sync(A)
    assert any("meanwhile" in e["message"] for e in summary.entries)
    h.sync(A)
    (event,) = h.events(A)
    activity = h.activity(aid)
    assert (activity.subject, activity.location) == (event.summary, event.location)


@pytest.mark.parametrize(("setting", "imported", "private"), [("everyone", True, False), ("busy_block", True, True), ("skip", False, None)])
def test_private_events_follow_the_setting(h: Harness, setting: str, imported: bool, private: bool | None) -> None:
    h.connect(A, private_events=setting)
    h.put_event(A, "Doctor", privacy="confidential")
    h.sync(A)
    found = h.activities(A)
    assert bool(found) == imported
    if imported:
        assert found[0].private is private


def test_busy_blocks_show_nothing_but_time_to_other_users(h: Harness) -> None:
    from calsync.crm.redaction import activity_for_viewer

    h.user(B)
    h.connect(A, private_events="busy_block")
    h.put_event(A, "Doctor", privacy="private", location="Clinic")
    h.sync(A)
    (activity,) = h.activities(A)
    with h.session() as s:
        seen = activity_for_viewer(s.get(User, h.users[B]), s.merge(activity), "meeting", visible_persons=())
    assert (seen.subject, seen.location, seen.redacted) == ("Busy", "", True)


def test_deal_and_contact_block_is_never_read_back_so_descriptions_never_grow(h: Harness) -> None:
    h.connect(A, include_details=True)
    aid = h.create(A, "Call", public_description="Agenda")
    h.sync(A)
    (event,) = h.events(A)
    assert BLOCK_START in event.description and "Open in CRM" in event.description
    h.server.user_put(A, Event(**{**vars(event), "summary": "Call (edited)"}))
    h.sync(A)
    h.sync(A)
    assert h.activity(aid).public_description == "Agenda"
    assert h.events(A)[0].description.count(BLOCK_START) == 1


def test_a_failed_deletion_waits_in_the_outbox_and_is_retried(h: Harness) -> None:
    h.connect(A)
    aid = h.create(A, "Call")
    h.sync(A)
    h.delete(A, aid)
    h.server.fail("5xx", method="delete_event")
    summary = h.sync(A)
    assert summary.status == "provider_error" and len(h.events(A)) == 1
    from sqlalchemy import update

    from calsync.store.tables import SyncOutbox

    with h.session() as s:  # the backoff has passed
        s.execute(update(SyncOutbox).values(next_attempt_at=dt.datetime.now(UTC) - dt.timedelta(seconds=1)))
    assert h.sync(A).status == "ok"
    assert h.events(A) == []


def test_never_two_syncs_of_one_account_at_once(h: Harness) -> None:
    h.connect(A)
    inner: list[str] = []

    def nested(method: str, phase: str) -> None:
        if method == "list_changes" and phase == "before" and not inner:
            inner.append(h.sync(A).status)

    h.server.hook = nested
    assert h.sync(A).status == "ok"
    assert inner == ["busy"]


def test_the_run_log_counts_and_explains(h: Harness) -> None:
    h.connect(A)
    h.create(A, "Call")
    h.put_event(A, "Dentist")
    h.put_event(A, "Old", start=soon(-3))
    h.sync(A)
    run = h.last_run(A)
    assert (run.status, run.pulled, run.pushed, run.skipped) == ("ok", 1, 1, 1)
    assert run.entries[0]["kind"] == "skip" and "past" in run.entries[0]["message"]


def test_mail_accounts_are_refused_with_a_clear_message(h: Harness) -> None:
    from calsync.crm.errors import Invalid

    with h.session() as s:
        for provider in ("imap", "pop3", "alice@example.com"):
            with pytest.raises(Invalid) as caught:
                sync_accounts.connect(s, h.context.box, s.get(User, h.users[A]), provider, {})
            assert caught.value.message == sync_accounts.NOT_CALENDAR


def test_past_activities_never_pushed_show_not_synced_with_the_reason(h: Harness) -> None:
    from calsync.crm.services.sync_status import sync_infos
    from calsync.store.tables import Activity

    before = h.create(A, "Last week", start=soon(-24 * 7))
    h.connect(A)
    upcoming = h.create(A, "Tomorrow", start=soon(24))
    unsent = h.create(A, "Not sent yet", start=soon(30))
    h.sync(A)
    h.edit(A, unsent, subject="Not sent yet (edited)")
    with h.session() as s:
        acts = list(s.scalars(select(Activity).where(Activity.id.in_([before, upcoming, unsent]))))
        infos = sync_infos(s, acts, {})
    assert (infos[before].status, infos[before].reason) == ("not_synced", "ended before calendar sync started")
    assert infos[upcoming].status == "synced"
    assert infos[unsent].status == "pending"


def test_an_event_the_crm_refuses_is_logged_without_its_private_title_and_never_duplicated_or_deleted(h: Harness) -> None:
    h.connect(A)
    good = h.put_event(A, "Dentist")
    start = soon(5)
    far = dt.datetime(3000, 6, 1, tzinfo=UTC)  # the CRM takes years up to 2999 only
    refused = h.put_event(A, "Secret offsite", start=start, hours=(far - start).total_seconds() / 3600, privacy="private")
    first = h.sync(A)
    assert subjects(h) == ["Dentist"]
    [entry] = [e for e in first.entries if "not taken in" in e["message"]]
    assert entry["item"] == "a private event" and "Secret" not in entry["message"]
    for _ in range(2):
        assert h.sync(A, full=True).status == "ok"
        assert subjects(h) == ["Dentist"] and h.activities(A, deleted=True) == []
    assert sorted(e.summary for e in h.events(A)) == ["Dentist", "Secret offsite"]
    h.server.user_put(A, Event(**{**vars(refused), "end": start + dt.timedelta(hours=1)}))
    h.sync(A)
    h.sync(A, full=True)
    assert subjects(h) == ["Dentist", "Secret offsite"] and len(h.links(A)) == 2
    assert {e.event_id for e in h.events(A)} == {good.event_id, refused.event_id}
