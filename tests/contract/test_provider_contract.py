"""The provider contract: what the sync engine relies on, checked on every provider the same way
(in-memory, CalDAV on Radicale, CalDAV on Xandikos)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from calsync.sync.model import ChangeSet, Event
from calsync.sync.provider import AlreadyExists, CursorExpired, PreconditionFailed, Window
from tests.support.harness import Harness

UTC = dt.timezone.utc


def hour(days: int, hours: int = 10) -> dt.datetime:
    today = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=days, hours=hours)


def window() -> Window:
    now = dt.datetime.now(UTC)
    return Window(now, now + dt.timedelta(days=365))


def crm_event(h: Harness, summary: str = "Call Ada", **changes: object) -> Event:
    values: dict[str, object] = dict(
        calendar_id=h.calendar_id, activity_uuid=str(uuid.uuid4()), summary=summary,
        start=hour(2), end=hour(2, 11), timezone="UTC",
    )
    values.update(changes)
    return Event(**values)  # type: ignore[arg-type]


def listing(h: Harness, cursor: str | None) -> tuple[ChangeSet, list[ChangeSet]]:
    """Follows pages to the end; returns the merged result (cursor of the last page) and the pages."""
    pages = [h.provider.list_changes(h.calendar_id, cursor, window())]
    while pages[-1].next_page is not None:
        assert pages[-1].cursor is None, "a cursor may only come with the last page"
        pages.append(h.provider.list_changes(h.calendar_id, cursor, window(), pages[-1].next_page))
    merged = ChangeSet(full=pages[0].full, cursor=pages[-1].cursor)
    for page in pages:
        merged.events += page.events
        merged.deleted += page.deleted
        merged.complete_series += page.complete_series
        merged.skipped += page.skipped
    return merged, pages


def by_summary(changes: ChangeSet) -> dict[str, Event]:
    return {e.summary: e for e in changes.events}


def test_create_is_listed_with_our_id_and_etag(harness: Harness) -> None:
    start, _ = listing(harness, None)
    assert start.full and start.cursor
    created = harness.provider.create_event(crm_event(harness), send_invitations=False)
    assert created.event_id and created.etag
    changes, _ = listing(harness, start.cursor)
    listed = by_summary(changes)["Call Ada"]
    assert listed.activity_uuid == created.activity_uuid
    assert listed.etag == created.etag
    assert (listed.start, listed.end) == (hour(2), hour(2, 11))
    assert not changes.full


def test_repeated_create_raises_already_exists_and_makes_no_duplicate(harness: Harness) -> None:
    event = crm_event(harness)
    harness.provider.create_event(event, send_invitations=False)
    with pytest.raises(AlreadyExists):
        harness.provider.create_event(replace(event, summary="second try"), send_invitations=False)
    changes, _ = listing(harness, None)
    assert [e.summary for e in changes.events] == ["Call Ada"]


def test_update_needs_the_current_etag(harness: Harness) -> None:
    created = harness.provider.create_event(crm_event(harness), send_invitations=False)
    updated = harness.provider.update_event(replace(created, summary="Call Ada (moved)", start=hour(3), end=hour(3, 11)),
                                            created.etag, send_invitations=False)
    assert updated.etag and updated.etag != created.etag
    with pytest.raises(PreconditionFailed):
        harness.provider.update_event(replace(created, summary="stale write"), created.etag, send_invitations=False)
    [current] = harness.provider.get_event(harness.calendar_id, created.event_id)
    assert current.summary == "Call Ada (moved)"
    assert current.start == hour(3)


def test_update_after_another_app_edited_fails_with_412(harness: Harness) -> None:
    created = harness.provider.create_event(crm_event(harness), send_invitations=False)
    harness.edit_summary(created.event_id, "edited in the calendar app")
    with pytest.raises(PreconditionFailed):
        harness.provider.update_event(replace(created, summary="ours"), created.etag, send_invitations=False)


def test_delete_needs_the_current_etag_and_missing_counts_as_deleted(harness: Harness) -> None:
    created = harness.provider.create_event(crm_event(harness), send_invitations=False)
    updated = harness.provider.update_event(replace(created, summary="v2"), created.etag, send_invitations=False)
    with pytest.raises(PreconditionFailed):
        harness.provider.delete_event(harness.calendar_id, created.event_id, created.etag)
    harness.provider.delete_event(harness.calendar_id, created.event_id, updated.etag)
    assert harness.provider.get_event(harness.calendar_id, created.event_id) == []
    harness.provider.delete_event(harness.calendar_id, created.event_id, updated.etag)  # already gone: fine


def test_find_by_activity_id(harness: Harness) -> None:
    created = harness.provider.create_event(crm_event(harness), send_invitations=False)
    found = harness.provider.find_by_activity_id(harness.calendar_id, created.activity_uuid or "")
    assert found is not None and found.event_id == created.event_id and found.summary == "Call Ada"
    assert harness.provider.find_by_activity_id(harness.calendar_id, str(uuid.uuid4())) is None


def test_full_listing_has_upcoming_items_only_and_pages(harness: Harness) -> None:
    harness.put_single("long ago", hour(-30), hour(-30, 11))
    for n in range(5):
        harness.put_single(f"upcoming {n}", hour(n + 1), hour(n + 1, 11))
    harness.set_page_size(2)
    changes, pages = listing(harness, None)
    assert len(pages) >= 3
    assert all(p.full for p in pages)
    assert sorted(e.summary for e in changes.events) == [f"upcoming {n}" for n in range(5)]
    assert changes.cursor


def test_incremental_lists_edits_and_deletions_as_tombstones(harness: Harness) -> None:
    keep = harness.put_single("keep", hour(1), hour(1, 11))
    gone = harness.put_single("gone", hour(2), hour(2, 11))
    start, _ = listing(harness, None)
    harness.edit_summary(keep, "keep (edited)")
    harness.delete(gone)
    changes, _ = listing(harness, start.cursor)
    assert [e.summary for e in changes.events] == ["keep (edited)"]
    assert [k.event_id for k in changes.deleted] == [gone]
    assert changes.deleted[0].recurrence_id == ""
    idle, _ = listing(harness, changes.cursor)
    assert idle.events == [] and idle.deleted == []


def test_removals_say_whether_the_item_was_deleted_or_left_the_window(harness: Harness) -> None:
    """A deleted event is a removal with reason `deleted`; an occurrence moved beyond the window
    still exists, so it is listed or reported as `left_window`, never as deleted (the engine
    trashes activities only for real deletions)."""
    gone = harness.put_single("gone", hour(2), hour(2, 11))
    series = harness.put_daily_series("standup", hour(1, 9), 3)
    start, _ = listing(harness, None)
    first = min((e for e in start.events if e.series_id == series), key=lambda e: e.start)  # type: ignore[arg-type, return-value]
    harness.delete(gone)
    harness.move_occurrence(series, first.recurrence_id, hour(400, 9), hour(400, 10))
    changes, _ = listing(harness, start.cursor)
    reasons = {(r.event_id, r.recurrence_id): r.reason for r in changes.deleted}
    assert reasons[(gone, "")] == "deleted"
    assert not any(r.event_id == series and r.reason == "deleted" for r in changes.deleted)
    listed = {(e.event_id, e.recurrence_id) for e in changes.events}
    assert (series, first.recurrence_id) in listed or reasons.get((series, first.recurrence_id)) == "left_window"


def test_incremental_pages_when_many_changed(harness: Harness) -> None:
    start, _ = listing(harness, None)
    for n in range(5):
        harness.put_single(f"new {n}", hour(n + 1), hour(n + 1, 11))
    harness.set_page_size(2)
    changes, pages = listing(harness, start.cursor)
    assert len(pages) >= 3
    assert sorted(e.summary for e in changes.events) == [f"new {n}" for n in range(5)]


def test_expired_cursor_raises_cursor_expired_and_full_listing_recovers(harness: Harness) -> None:
    harness.put_single("one", hour(1), hour(1, 11))
    start, _ = listing(harness, None)
    harness.put_single("two", hour(2), hour(2, 11))
    stale = harness.expire(start.cursor or "")
    with pytest.raises(CursorExpired):
        harness.provider.list_changes(harness.calendar_id, stale, window())
    again, _ = listing(harness, None)
    assert sorted(e.summary for e in again.events) == ["one", "two"]


def test_recurring_series_expanded_with_moved_and_cancelled_occurrences(harness: Harness) -> None:
    series = harness.put_daily_series("standup", hour(1, 9), 5)
    start, _ = listing(harness, None)
    occurrences = [e for e in start.events if e.series_id == series]
    assert len(occurrences) == 5
    assert series in start.complete_series
    assert len({o.recurrence_id for o in occurrences}) == 5
    assert all(o.event_id == series and o.is_occurrence for o in occurrences)
    ordered = sorted(occurrences, key=lambda o: o.start)  # type: ignore[arg-type, return-value]
    moved_id, cancelled_id = ordered[1].recurrence_id, ordered[3].recurrence_id

    harness.move_occurrence(series, moved_id, hour(2, 15), hour(2, 16))
    after_move, _ = listing(harness, start.cursor)
    moved = {o.recurrence_id: o for o in after_move.events if o.series_id == series}
    assert len(moved) == 5 and moved[moved_id].start == hour(2, 15)
    assert series in after_move.complete_series

    harness.cancel_occurrence(series, cancelled_id)
    after_cancel, _ = listing(harness, after_move.cursor)
    remaining = {o.recurrence_id for o in after_cancel.events if o.series_id == series}
    assert cancelled_id not in remaining and len(remaining) == 4
    assert series in after_cancel.complete_series


def test_deleting_a_series_is_a_tombstone(harness: Harness) -> None:
    series = harness.put_daily_series("weekly review", hour(1, 9), 3)
    start, _ = listing(harness, None)
    harness.delete(series)
    changes, _ = listing(harness, start.cursor)
    assert [k.event_id for k in changes.deleted] == [series]
    assert [e for e in changes.events if e.series_id == series] == []


@pytest.mark.parametrize("privacy", ["public", "private", "confidential"])
def test_privacy_and_busy_flags_round_trip(harness: Harness, privacy: str) -> None:
    created = harness.provider.create_event(crm_event(harness, privacy=privacy, busy=False), send_invitations=False)
    [listed] = harness.provider.get_event(harness.calendar_id, created.event_id)
    assert (listed.privacy, listed.busy) == (privacy, False)
    other = harness.put_single("from the app", hour(4), hour(4, 11), privacy=privacy, busy=True)
    [seen] = harness.provider.get_event(harness.calendar_id, other)
    assert (seen.privacy, seen.busy, seen.is_private) == (privacy, True, privacy != "public")


def test_all_day_event_keeps_its_dates(harness: Harness) -> None:
    day = (dt.datetime.now(UTC) + dt.timedelta(days=10)).date()
    event = crm_event(harness, all_day=True, start=None, end=None, timezone=None, start_date=day,
                      end_date=day + dt.timedelta(days=2))
    created = harness.provider.create_event(event, send_invitations=False)
    [listed] = harness.provider.get_event(harness.calendar_id, created.event_id)
    assert listed.all_day and (listed.start_date, listed.end_date) == (day, day + dt.timedelta(days=2))
