"""Nothing lost on a real server: an unreadable object keeps its activity and its event, a
time-range answer that drops items deletes nothing, text and attendees the CRM keeps only in part
are never cut in the calendar, and floating times are read in the owner's zone."""

from __future__ import annotations

import datetime as dt
import re
import types
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from calsync.store.db import session_scope
from calsync.store.tables import ActivityAttendee, SyncLink, SyncRun, User
from calsync.web.context import AppContext
from tests.caldav.test_two_way import TwoWay, soon
from tests.support.dav_proxy import DroppingProxy, dropping_proxy
from tests.support.harness import DavHarness, ics_time

UTC = dt.timezone.utc


@pytest.fixture
def two_way(crm_context: AppContext, dav: DavHarness) -> TwoWay:
    return TwoWay(crm_context, dav)


def unfolded(text: str) -> str:
    return text.replace("\r\n ", "").replace("\r\n", "\n")


def links(two_way: TwoWay) -> list[SyncLink]:
    with session_scope(two_way.context.sessions) as s:
        rows = list(s.scalars(select(SyncLink).where(SyncLink.account_id == two_way.account_id)))
        for row in rows:
            s.expunge(row)
        return rows


def run_log(two_way: TwoWay) -> list[dict[str, str]]:
    with session_scope(two_way.context.sessions) as s:
        run = s.scalar(select(SyncRun).where(SyncRun.account_id == two_way.account_id).order_by(SyncRun.id.desc()))
        assert run is not None
        return list(run.entries or [])


def attendee_emails(two_way: TwoWay, activity_id: int) -> set[str]:
    with session_scope(two_way.context.sessions) as s:
        return set(s.scalars(select(ActivityAttendee.email).where(ActivityAttendee.activity_id == activity_id)))


def vevent(uid: str, summary: str, start: dt.datetime, *, extra: str = "") -> str:
    return (f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\nDTSTART:{ics_time(start)}\n"
            f"DTEND:{ics_time(start + dt.timedelta(hours=1))}\nSUMMARY:{summary}\n{extra}END:VEVENT")


# ---------------------------------------------------------------- 1. skipped is not missing


def test_unreadable_event_keeps_its_activity_link_and_event_and_its_reason_is_logged(two_way: TwoWay) -> None:
    uid = uuid.uuid4().hex
    href = two_way.dav.put_ics(vevent(uid, "Surgery consult", soon(3), extra="CLASS:PRIVATE\n"), name=f"{uid}.ics")
    two_way.dav.put_single("Dentist", soon(4), soon(4, 11))
    two_way.sync()
    assert sorted(a.subject for a in two_way.activities()) == ["Dentist", "Surgery consult"]
    # another app stores a description longer than any calendar item we read (unreadable for us)
    two_way.dav.put_ics(vevent(uid, "Surgery consult", soon(3), extra=f"CLASS:PRIVATE\nDESCRIPTION:{'x' * 150_000}\n"),
                        name=f"{uid}.ics")
    full = two_way.engine.run(two_way.account_id, full=True)
    assert full.status == "ok", full
    assert sorted(a.subject for a in two_way.activities()) == ["Dentist", "Surgery consult"]
    assert two_way.activities(deleted=True) == []
    assert {link.event_id for link in links(two_way)} >= {href}
    log = run_log(two_way)
    [entry] = [e for e in log if "cannot be read" in e["message"]]
    assert "DESCRIPTION" in entry["message"] and entry["item"] == "a private event"
    assert not any("Surgery" in e["item"] + e["message"] for e in log)  # private: never its title
    two_way.sync()
    assert href in two_way.server_objects(), "the event was deleted from the calendar"
    # repaired in the other app: the pair syncs again
    two_way.dav.put_ics(vevent(uid, "Surgery consult (moved)", soon(5), extra="CLASS:PRIVATE\n"), name=f"{uid}.ics")
    two_way.engine.run(two_way.account_id, full=True)
    assert sorted(a.subject for a in two_way.activities()) == ["Dentist", "Surgery consult (moved)"]


# ---------------------------------------------------------------- 2. deletion needs agreeing evidence


@pytest.fixture
def proxied(crm_context: AppContext, dav: DavHarness) -> Iterator[tuple[TwoWay, DroppingProxy]]:
    """The account talks to the server through a proxy that can cut time-range answers."""
    with dropping_proxy(dav.server.url) as proxy:
        through = types.SimpleNamespace(
            server=types.SimpleNamespace(url=proxy.url, users=dav.server.users), user=dav.user,
            calendar_id=dav.calendar_id.replace(dav.server.url, proxy.url))
        two_way = TwoWay(crm_context, through)  # type: ignore[arg-type]
        two_way.dav = dav
        yield two_way, proxy


def test_a_time_range_answer_that_drops_items_deletes_nothing(proxied: tuple[TwoWay, DroppingProxy]) -> None:
    two_way, proxy = proxied
    hrefs = [two_way.dav.put_single(f"Meeting {n}", soon(2 + n), soon(2 + n, 11)) for n in range(8)]
    two_way.sync()
    assert len(two_way.activities()) == 8
    proxy.drop = set(hrefs[:3])
    summary = two_way.engine.run(two_way.account_id, full=True)
    assert summary.status == "ok", summary
    assert sorted(proxy.dropped) == sorted(hrefs[:3]), "the proxy did not cut the time-range answer"
    assert two_way.activities(deleted=True) == []
    assert len(two_way.activities()) == 8
    two_way.sync()
    assert set(hrefs) <= set(two_way.server_objects()), "events were deleted from the calendar"
    # a change the cut answer hid still comes in (the item was read with multiget)
    two_way.dav.edit_summary(hrefs[0], "Meeting 0 (moved)")
    proxy.dropped.clear()
    two_way.engine.run(two_way.account_id, full=True)
    assert proxy.dropped and "Meeting 0 (moved)" in [a.subject for a in two_way.activities()]
    # a real deletion is still a deletion (absent from the membership listing)
    two_way.dav.delete(hrefs[1])
    two_way.engine.run(two_way.account_id, full=True)
    assert [a.subject for a in two_way.activities(deleted=True)] == ["Meeting 1"]


def test_a_new_event_the_time_range_answer_drops_is_imported_and_past_items_are_read_once(
        proxied: tuple[TwoWay, DroppingProxy]) -> None:
    two_way, proxy = proxied
    two_way.dav.put_single("Last month", soon(-30), soon(-30, 11))
    for n in range(3):
        two_way.dav.put_single(f"Meeting {n}", soon(2 + n), soon(2 + n, 11))
    two_way.sync()  # the past item is new to this first listing: read once, and left out (over)
    assert sorted(a.subject for a in two_way.activities()) == ["Meeting 0", "Meeting 1", "Meeting 2"]
    new = two_way.dav.put_single("New meeting", soon(6), soon(6, 11))
    proxy.drop = {new}
    summary = two_way.engine.run(two_way.account_id, full=True)
    assert summary.status == "ok", summary
    assert proxy.dropped == [new], "the proxy did not cut the time-range answer"
    assert "New meeting" in [a.subject for a in two_way.activities()]
    assert any(link.event_id == new for link in links(two_way))
    # every object is known now: a full listing reads nothing beyond its own listing (the
    # sync-collection, the time-range query and one multiget of what the query named)
    proxy.drop = set()
    two_way.engine.run(two_way.account_id, full=True)
    assert two_way.providers[-1].counter.by_method["REPORT"] == 3, two_way.providers[-1].counter.by_method


# ---------------------------------------------------------------- 4. never write back less than you read


def test_a_long_description_is_not_cut_in_the_calendar_by_an_unrelated_crm_edit(two_way: TwoWay) -> None:
    text = "".join(f"line {n:05d} of the long agenda\n" for n in range(2000))
    assert len(text) == 60_000
    escaped = text.replace("\n", "\\n")
    uid = uuid.uuid4().hex
    href = two_way.dav.put_ics(vevent(uid, "Planning", soon(3), extra=f"DESCRIPTION:{escaped}\n"), name=f"{uid}.ics")
    summary = two_way.sync()
    [activity] = two_way.activities()
    assert len(activity.public_description or "") == 20_000
    two_way.edit(activity.id, subject="Planning (room 4)")
    two_way.sync()
    stored = unfolded(two_way.server_objects()[href])
    assert "SUMMARY:Planning (room 4)" in stored
    description = re.search(r"^DESCRIPTION:(.*)$", stored, re.M).group(1)  # type: ignore[union-attr]
    assert description.replace("\\n", "\n").strip() == text.strip()
    two_way.sync()
    assert [a.subject for a in two_way.activities()] == ["Planning (room 4)"]
    # a change the user makes to the description in the CRM is written, even if shorter
    two_way.edit(activity.id, public_description="Short agenda")
    two_way.sync()
    assert "DESCRIPTION:Short agenda" in unfolded(two_way.server_objects()[href])
    # the import said what the CRM keeps
    assert any("59,999 characters" in e["message"] and "20,000" in e["message"] for e in summary.entries), summary.entries


def test_an_event_with_600_attendees_is_imported_with_those_the_crm_keeps_and_the_calendar_keeps_all(
        two_way: TwoWay) -> None:
    lines = "ORGANIZER;CN=Org:mailto:org@example.com\n" + "".join(
        f"ATTENDEE;CN=Guest {n};PARTSTAT=NEEDS-ACTION:mailto:guest{n:03d}@example.com\n" for n in range(600))
    uid = uuid.uuid4().hex
    href = two_way.dav.put_ics(vevent(uid, "All hands", soon(3), extra=lines), name=f"{uid}.ics")
    summary = two_way.sync()
    [activity] = two_way.activities()
    kept = attendee_emails(two_way, activity.id)
    assert len(kept) == 500 and "org@example.com" in kept
    assert any("601 attendees" in e["message"] and "500" in e["message"] for e in summary.entries), summary.entries
    two_way.edit(activity.id, subject="All hands (moved)")
    two_way.sync()
    stored = unfolded(two_way.server_objects()[href])
    assert "SUMMARY:All hands (moved)" in stored
    assert len(re.findall(r"^ATTENDEE", stored, re.M)) == 600
    assert "mailto:org@example.com" in stored


# ---------------------------------------------------------------- 5. floating times


def test_floating_times_are_read_in_the_owners_time_zone(two_way: TwoWay) -> None:
    with session_scope(two_way.context.sessions) as s:
        s.get(User, two_way.user_id).timezone = "America/New_York"  # type: ignore[union-attr]
    day = (dt.datetime.now(UTC) + dt.timedelta(days=10)).date()
    uid = uuid.uuid4().hex
    two_way.dav.put_ics(
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\nDTSTART:{day:%Y%m%d}T090000\n"
        f"DTEND:{day:%Y%m%d}T100000\nSUMMARY:Breakfast with Ada\nEND:VEVENT", name=f"{uid}.ics")
    two_way.sync()
    [activity] = two_way.activities()
    local = dt.datetime.combine(day, dt.time(9), ZoneInfo("America/New_York"))
    assert activity.start_at == local.astimezone(UTC)
    assert activity.end_at == (local + dt.timedelta(hours=1)).astimezone(UTC)
    assert activity.timezone == "America/New_York"
    two_way.sync()  # settles: the next run changes nothing on either side
    assert two_way.sync().writes == 0


def test_the_reason_of_an_unreadable_object_never_quotes_its_content() -> None:
    """The run log shows a skipped object's reason to the account's owner and admins; for a
    private event it must not carry the event's words, so parser and expansion errors are named
    by kind, not quoted."""
    from calsync.providers.caldav import objects
    from calsync.sync.provider import Window

    window = Window(dt.datetime.now(UTC), dt.datetime.now(UTC) + dt.timedelta(days=365))
    secret = "JaneDoeOncology"
    text = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//x//EN\n" + vevent(
        "u1", "Consult", soon(3), extra=f"CLASS:PRIVATE\nRRULE:FREQ=WEEKLY;COUNT={secret}\n") + "\nEND:VCALENDAR\n")
    expanded = objects.expand("cal", "u1.ics", None, text, window)
    assert expanded.skipped is not None and "recurrence rule" in expanded.skipped
    assert secret not in expanded.skipped
