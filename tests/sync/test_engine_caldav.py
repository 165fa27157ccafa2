"""The engine against the CalDAV provider on real Radicale and Xandikos servers: the fixed point
holds through real iCalendar, and edits and deletions flow both ways."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from calsync.store.tables import SyncAccount
from calsync.web.context import AppContext
from tests.support.dav_fixtures import radicale, xandikos  # noqa: F401  (fixtures)
from tests.support.harness import Harness as DavSide
from tests.support.harness import make_harness
from tests.sync.harness import Harness, soon

A = "alice@example.com"


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> Iterator[DavSide]:
    side = make_harness(request.param, {request.param: request.getfixturevalue(request.param)})
    yield side
    side.close()


@pytest.fixture
def hc(sync_context: AppContext, dav: DavSide) -> Harness:
    """A user whose account syncs with a fresh calendar on the CalDAV server."""
    h = Harness(sync_context)
    h.user(A)
    account_id = h.connect(A)
    with h.session() as s:
        s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(provider="caldav", calendar_id=dav.calendar_id))
    from calsync.providers.caldav import CalDavProvider

    password = dav.server.users.get(dav.user) if dav.server.users else None  # type: ignore[attr-defined]
    h.engine.opener = lambda account: CalDavProvider(dav.server.url, dav.user if password else None, password)  # type: ignore[attr-defined]
    return h


def listed(dav: DavSide) -> list:  # type: ignore[type-arg]
    now = dt.datetime.now(dt.timezone.utc)
    from calsync.sync.provider import Window

    changes = dav.provider.list_changes(dav.calendar_id, None, Window(now - dt.timedelta(days=1), now + dt.timedelta(days=30)))
    return changes.events


def test_round_trip_through_real_icalendar_is_a_fixed_point(hc: Harness, dav: DavSide) -> None:
    aid = hc.create(A, "Call Bob", public_description="Agenda\n- prices", location="Room 1",
                    attendees=[{"email": "carol@example.com", "name": "Carol"}])
    hc.create(A, "Offsite", all_day=True, start=soon(24 * 3), hours=48)
    dav.put_single("Dentist", soon(5), soon(6), privacy="private")
    first = hc.sync(A)
    assert first.status == "ok" and (first.pushed, first.pulled) == (2, 1), first.entries
    assert sorted(e.summary for e in listed(dav)) == ["Call Bob", "Dentist", "Offsite"]
    again = hc.sync(A, full=True)
    assert again.status == "ok" and again.writes == 0, again.entries
    event = next(e for e in listed(dav) if e.summary == "Call Bob")
    assert event.activity_uuid == hc.activity(aid).uuid
    dav.edit_summary(event.event_id, "Call Bob (moved)")
    hc.sync(A)
    assert hc.activity(aid).subject == "Call Bob (moved)"
    dav.delete(event.event_id)
    hc.sync(A)
    assert hc.activity(aid).deleted
    assert hc.sync(A).writes == 0


def test_a_batch_of_crm_edits_costs_one_read_and_one_put_each(hc: Harness, dav: DavSide) -> None:
    from calsync.providers.caldav import CalDavProvider
    from calsync.providers.caldav.http import RequestCounter

    ids = [hc.create(A, f"Call {i}") for i in range(5)]
    assert hc.sync(A).pushed == 5
    hc.sync(A)  # takes in the echo of this side's creates
    counter = RequestCounter()
    password = dav.server.users.get(dav.user) if dav.server.users else None  # type: ignore[attr-defined]
    hc.engine.opener = lambda account: CalDavProvider(dav.server.url, dav.user if password else None, password, counter=counter)  # type: ignore[attr-defined]
    for aid in ids[:4]:
        hc.edit(A, aid, subject=f"Call {aid} (moved)")
    summary = hc.sync(A)
    assert summary.status == "ok" and summary.pushed == 4, summary.entries
    assert counter.by_method["PUT"] == 4
    assert counter.by_method["GET"] == 0
    assert counter.by_method["REPORT"] == 2  # the change listing, and one multiget for the 4 events
    assert sorted(e.summary for e in listed(dav)) == sorted([f"Call {aid} (moved)" for aid in ids[:4]] + ["Call 4"])
