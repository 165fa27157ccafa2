"""What only CalDAV has: the iCalendar text on the server. Unmapped properties survive our
updates, unmappable items are skipped with a reason, attendees carry SCHEDULE-AGENT=CLIENT,
request counts stay small, the ctag fallback works, and time zones / recurrence variants expand."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

from calsync.providers.caldav import CalDavProvider
from calsync.sync.model import ChangeSet, EventAttendee
from calsync.sync.provider import Window
from tests.contract.test_provider_contract import crm_event, hour, window
from tests.support.harness import DavHarness

UTC = dt.timezone.utc


def full(dav: DavHarness, provider: CalDavProvider | None = None) -> ChangeSet:
    provider = provider or dav.provider  # type: ignore[assignment]
    result = provider.list_changes(dav.calendar_id, None, window())  # type: ignore[union-attr]
    assert result.next_page is None
    return result


def test_unmapped_properties_survive_our_update(dav: DavHarness) -> None:
    href = dav.put_ics(f"""BEGIN:VEVENT
UID:{uuid.uuid4()}
DTSTAMP:20260101T000000Z
DTSTART:{hour(3).strftime('%Y%m%dT%H%M%SZ')}
DTEND:{hour(3, 11).strftime('%Y%m%dT%H%M%SZ')}
SUMMARY:Board meeting
CATEGORIES:Board
X-OTHER-CLIENT-COLOR:teal
X-MOZ-GENERATION:3
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT15M
END:VALARM
END:VEVENT""")
    [event] = [e for e in full(dav).events if e.event_id == href]
    assert event.activity_uuid is None
    dav.provider.update_event(replace(event, summary="Board meeting (moved)", location="Room 4"), event.etag,
                              send_invitations=False)
    text = dav.get_ics(href).replace("\r\n ", "")
    assert "SUMMARY:Board meeting (moved)" in text and "LOCATION:Room 4" in text
    assert "BEGIN:VALARM" in text and "TRIGGER:-PT15M" in text
    assert "X-OTHER-CLIENT-COLOR:teal" in text and "X-MOZ-GENERATION:3" in text
    assert "CATEGORIES:Board" in text


def test_unmappable_items_are_skipped_with_a_reason_and_the_rest_goes_on(dav: DavHarness) -> None:
    cal = dav.server.make_calendar(dav.user, f"mixed-{uuid.uuid4().hex[:6]}",
                                   components=("VEVENT", "VTODO", "VJOURNAL"))
    dav.calendar_id = cal
    start = dav.provider.list_changes(cal, None, window())
    when = hour(5).strftime("%Y%m%dT%H%M%SZ")
    bad = {
        "no start": "BEGIN:VEVENT\nUID:b1\nDTSTAMP:20260101T000000Z\nSUMMARY:no start\nEND:VEVENT",
        "unknown zone": "BEGIN:VEVENT\nUID:b2\nDTSTAMP:20260101T000000Z\nDTSTART;TZID=Mars/Olympus:"
                        f"{when[:-1]}\nSUMMARY:mars\nEND:VEVENT",
        "broken date": "BEGIN:VEVENT\nUID:b3\nDTSTAMP:20260101T000000Z\nDTSTART:20271345T100000Z\n"
                       "SUMMARY:bad\nEND:VEVENT",
        "task": f"BEGIN:VTODO\nUID:b4\nDTSTAMP:20260101T000000Z\nSUMMARY:a task\nDUE:{when}\nEND:VTODO",
        "journal": f"BEGIN:VJOURNAL\nUID:b5\nDTSTAMP:20260101T000000Z\nDTSTART:{when}\nSUMMARY:note\nEND:VJOURNAL",
        "huge": f"BEGIN:VEVENT\nUID:b6\nDTSTAMP:20260101T000000Z\nDTSTART:{when}\nSUMMARY:huge\n"
                f"DESCRIPTION:{'x' * 150_000}\nEND:VEVENT",
    }
    stored: dict[str, str] = {}
    for label, body in bad.items():
        try:
            stored[dav.put_ics(body)] = label
        except RuntimeError:
            pass  # the server itself refused to store it (Radicale validates dates on PUT)
    assert len(stored) >= 4, f"{dav.kind} accepted only {sorted(stored.values())}"
    good = dav.put_single("fine", hour(6), hour(6, 11))
    changes = dav.provider.list_changes(cal, start.cursor, window())
    assert [e.event_id for e in changes.events] == [good]
    reasons = dict(changes.skipped)
    assert set(reasons) == set(stored), (reasons, stored)
    for href, label in stored.items():
        assert reasons[href], label
    again = dav.provider.list_changes(cal, None, window())  # a full listing is not stopped by them either
    assert [e.event_id for e in again.events] == [good]
    texts = " | ".join(reasons.values())
    for label, needle in (("unknown zone", "Mars/Olympus"), ("task", "task"), ("huge", "DESCRIPTION"),
                          ("no start", "no start"), ("broken date", "not a valid date")):
        if label in stored.values():
            assert needle in texts, (label, texts)


def test_attendees_written_so_the_server_sends_no_invitations(dav: DavHarness) -> None:
    attendees = [EventAttendee("me@example.com", "Me", "accepted", organizer=True),
                 EventAttendee("ada@example.com", "Ada Lovelace", "needs_action")]
    quiet = dav.provider.create_event(crm_event(dav, attendees=attendees), send_invitations=False)
    text = dav.get_ics(quiet.event_id).replace("\r\n ", "")
    attendee_lines = [line for line in text.splitlines() if line.startswith(("ATTENDEE", "ORGANIZER"))]
    assert len(attendee_lines) == 3
    assert all("SCHEDULE-AGENT=CLIENT" in line for line in attendee_lines)
    [listed] = dav.provider.get_event(dav.calendar_id, quiet.event_id)
    assert [(a.email, a.name, a.status, a.organizer) for a in listed.attendees] == [
        ("me@example.com", "Me", "accepted", True), ("ada@example.com", "Ada Lovelace", "needs_action", False)]
    inviting = dav.provider.create_event(crm_event(dav, attendees=attendees), send_invitations=True)
    assert "SCHEDULE-AGENT" not in dav.get_ics(inviting.event_id)


def test_request_counts_idle_is_one_request_and_one_change_is_two(dav: DavHarness) -> None:
    for n in range(3):
        dav.put_single(f"e{n}", hour(n + 1), hour(n + 1, 11))
    counter = dav.provider.counter  # type: ignore[attr-defined]
    counter.reset()
    start = full(dav)
    assert counter.total == 3  # sync token, time-range query, one multiget for all
    counter.reset()
    idle = dav.provider.list_changes(dav.calendar_id, start.cursor, window())
    assert counter.total == 1 and idle.events == []
    dav.edit_summary(start.events[0].event_id, "changed")
    counter.reset()
    changed = dav.provider.list_changes(dav.calendar_id, idle.cursor, window())
    assert counter.total == 2 and [e.summary for e in changed.events] == ["changed"]
    assert counter.by_method["REPORT"] == 2 and counter.by_method.get("GET", 0) == 0


def test_without_sync_collection_a_ctag_check_then_etag_listing(dav: DavHarness) -> None:
    password = dav.server.users.get(dav.user) if dav.server.users else None
    provider = CalDavProvider(dav.server.url, dav.user if password else None, password, use_sync_collection=False)
    try:
        keep = dav.put_single("keep", hour(1), hour(1, 11))
        gone = dav.put_single("gone", hour(2), hour(2, 11))
        start = full(dav, provider)
        assert start.cursor and start.cursor.startswith("ct:")
        provider.counter.reset()
        idle = provider.list_changes(dav.calendar_id, start.cursor, window())
        assert provider.counter.total == 1 and idle.events == [] and idle.deleted == []
        dav.edit_summary(keep, "keep (edited)")
        dav.delete(gone)
        changes = provider.list_changes(dav.calendar_id, idle.cursor, window())
        assert [e.summary for e in changes.events] == ["keep (edited)"]
        assert [k.event_id for k in changes.deleted] == [gone]
        assert provider.counter.by_method.get("GET", 0) == 0
    finally:
        provider.close()


def test_time_zones_and_recurrence_variants_expand(dav: DavHarness) -> None:
    year = dt.datetime.now(UTC).year + 1
    # A zone under a private TZID, defined by its VTIMEZONE (as Outlook exports do), RDATE + EXDATE.
    series = dav.put_ics(f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//other app//EN
BEGIN:VTIMEZONE
TZID:Custom Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:{uuid.uuid4()}
DTSTAMP:20260101T000000Z
DTSTART;TZID=Custom Berlin:{year}0105T100000
DTEND;TZID=Custom Berlin:{year}0105T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Custom Berlin:{year}0112T100000
RDATE;TZID=Custom Berlin:{year}0201T090000
SUMMARY:weekly
END:VEVENT
END:VCALENDAR""")
    floating = dav.put_ics(f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
X-WR-TIMEZONE:America/New_York
BEGIN:VEVENT
UID:{uuid.uuid4()}
DTSTAMP:20260101T000000Z
DTSTART:{year}0301T090000
DTEND:{year}0301T093000
RRULE:FREQ=DAILY;COUNT=2
SUMMARY:standup NY
END:VEVENT
END:VCALENDAR""")
    now = dt.datetime.now(UTC)
    result = dav.provider.list_changes(dav.calendar_id, None, Window(now, now + dt.timedelta(days=800)))
    weekly = sorted(e.start for e in result.events if e.series_id == series)  # type: ignore[type-var]
    assert [s.astimezone(UTC) for s in weekly] == [  # type: ignore[union-attr]
        dt.datetime(year, 1, 5, 9, tzinfo=UTC), dt.datetime(year, 1, 19, 9, tzinfo=UTC),
        dt.datetime(year, 1, 26, 9, tzinfo=UTC), dt.datetime(year, 2, 1, 8, tzinfo=UTC)]
    ny = sorted(e.start for e in result.events if e.series_id == floating)  # type: ignore[type-var]
    assert [s.astimezone(UTC) for s in ny] == [  # type: ignore[union-attr]
        dt.datetime(year, 3, 1, 14, tzinfo=UTC), dt.datetime(year, 3, 2, 14, tzinfo=UTC)]
    assert {e.timezone for e in result.events if e.series_id == floating} == {"America/New_York"}


def test_prefetch_makes_a_batch_of_updates_one_put_each(dav: DavHarness) -> None:
    created = [dav.provider.create_event(crm_event(dav, summary=f"e{n}"), send_invitations=False) for n in range(4)]
    fresh = [replace(c, raw=None, summary=c.summary + " (edited)") for c in created]
    counter = dav.provider.counter  # type: ignore[attr-defined]
    counter.reset()
    dav.provider.prefetch(dav.calendar_id, [c.event_id for c in fresh])  # type: ignore[attr-defined]
    for event in fresh:
        dav.provider.update_event(event, event.etag, send_invitations=False)
    assert counter.total == 5 and counter.by_method["PUT"] == 4
    stale = dav.provider.update_event(replace(fresh[0], summary="again"), None, send_invitations=False)
    assert "SUMMARY:again" in dav.get_ics(stale.event_id)
