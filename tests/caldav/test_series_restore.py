"""Cancelling pending deletions after a recurring series was deleted in the calendar puts the
series back as the one object it was (its stored original), not one event per occurrence."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from calsync.store.db import session_scope
from calsync.store.tables import SyncSeriesOriginal, User
from calsync.sync import accounts as sync_accounts
from calsync.web.context import AppContext
from tests.caldav.test_two_way import TwoWay, soon
from tests.support.harness import DavHarness


@pytest.fixture
def two_way(crm_context: AppContext, dav: DavHarness) -> TwoWay:
    return TwoWay(crm_context, dav)


def test_cancelled_deletion_of_a_series_puts_the_series_object_back(two_way: TwoWay) -> None:
    href = two_way.dav.put_daily_series("Standup", soon(1, 9), 40)
    original = two_way.server_objects()
    two_way.sync()
    occurrences = two_way.activities()
    assert len(occurrences) == 40 and all(a.read_only for a in occurrences)

    two_way.dav.delete(href)
    asked = two_way.engine.run(two_way.account_id)
    assert asked.status == "needs_confirmation", asked.line()
    with session_scope(two_way.context.sessions) as s:
        sync_accounts.decide_deletions(s, s.get(User, two_way.user_id), "cancelled")
    two_way.sync()

    objects = two_way.server_objects()
    assert list(objects) == list(original)  # one object, under the series' own href
    [text] = objects.values()
    assert "RRULE:FREQ=DAILY;COUNT=40" in text
    assert text.count("BEGIN:VEVENT") == 1
    assert [line for line in text.splitlines() if line.startswith("UID:")] == [
        line for line in original[href].splitlines() if line.startswith("UID:")]
    kept = two_way.activities()
    assert [(a.id, a.subject, a.read_only, a.occurrence_id) for a in kept] == [
        (a.id, a.subject, a.read_only, a.occurrence_id) for a in occurrences]
    assert two_way.activities(deleted=True) == []
    again = two_way.sync()  # the series' occurrences are linked again: nothing more to write
    assert again.pushed == 0 and again.deleted == 0
    assert len(two_way.server_objects()) == 1 and len(two_way.activities()) == 40


def test_a_confirmed_deletion_of_a_series_trashes_its_occurrences_and_forgets_its_copy(two_way: TwoWay) -> None:
    href = two_way.dav.put_daily_series("Retro", soon(1, 14), 15)
    two_way.sync()
    assert len(two_way.activities()) == 15 and stored_copies(two_way) == 1
    two_way.dav.delete(href)
    assert two_way.engine.run(two_way.account_id).status == "needs_confirmation"
    with session_scope(two_way.context.sessions) as s:
        sync_accounts.decide_deletions(s, s.get(User, two_way.user_id), "confirmed")
    two_way.sync()
    assert two_way.activities() == [] and len(two_way.activities(deleted=True)) == 15
    assert two_way.server_objects() == {} and stored_copies(two_way) == 0


def stored_copies(two_way: TwoWay) -> int:
    with session_scope(two_way.context.sessions) as s:
        return len(list(s.scalars(select(SyncSeriesOriginal).where(SyncSeriesOriginal.account_id == two_way.account_id))))
