"""Scheduling lines on a real server, read from the stored iCalendar: events calsync gives
attendees name the account as ORGANIZER (RFC 5545 3.8.4.3), SCHEDULE-AGENT=CLIENT goes only on
the lines calsync writes, and a meeting the user organised in their own app keeps its lines."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from calsync.store.db import session_scope
from calsync.store.tables import ActivityAttendee, User
from calsync.sync import accounts as sync_accounts
from calsync.web.context import AppContext
from tests.caldav.test_two_way import TwoWay, soon
from tests.support.harness import DavHarness, ics_time

ME = "alice@example.com"


@pytest.fixture
def two_way(crm_context: AppContext, dav: DavHarness) -> TwoWay:
    return TwoWay(crm_context, dav)


def scheduling_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("ATTENDEE", "ORGANIZER"))]


def crm_attendees(two_way: TwoWay, activity_id: int) -> list[tuple[str, str, bool]]:
    with session_scope(two_way.context.sessions) as s:
        rows = s.scalars(select(ActivityAttendee).where(ActivityAttendee.activity_id == activity_id))
        return sorted((a.email, a.status, a.is_organizer) for a in rows)


def test_attendees_written_by_calsync_come_with_the_account_as_organizer(two_way: TwoWay) -> None:
    guests = [{"email": "ada@example.com", "name": "Ada Lovelace"}, {"email": "bob@example.com"}]
    activity_id = two_way.create("Planning", soon(2), attendees=guests)
    two_way.sync()
    [text] = two_way.server_objects().values()
    lines = scheduling_lines(text)
    organizers = [line for line in lines if line.startswith("ORGANIZER")]
    assert len(organizers) == 1 and organizers[0].lower().endswith(f"mailto:{ME}"), lines
    assert sorted(re.sub(r".*mailto:", "", line).lower() for line in lines if line.startswith("ATTENDEE")) == [
        "ada@example.com", "bob@example.com"]
    assert all("SCHEDULE-AGENT=CLIENT" in line for line in lines), lines
    # reading it back changes nothing: the organizer is the account, not a new guest
    assert two_way.sync().writes == 0
    assert crm_attendees(two_way, activity_id) == [
        ("ada@example.com", "needs_action", False), ("bob@example.com", "needs_action", False)]
    two_way.edit(activity_id, attendees=[*guests, {"email": "cy@example.com"}])
    two_way.sync()
    [again] = two_way.server_objects().values()
    assert len([line for line in scheduling_lines(again) if line.startswith("ORGANIZER")]) == 1
    assert two_way.sync().writes == 0


def test_a_meeting_organised_in_the_calendar_app_keeps_its_scheduling_lines_through_a_settings_change(
        two_way: TwoWay) -> None:
    start = soon(3)
    own = [
        f"ORGANIZER;CN=Alice:mailto:{ME}",
        f"ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:{ME}",
        "ATTENDEE;CN=Ada;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ada@example.com",
    ]
    href = two_way.dav.put_ics("\n".join([
        "BEGIN:VEVENT", f"UID:{uuid.uuid4()}", "DTSTAMP:20260101T000000Z", f"DTSTART:{ics_time(start)}",
        f"DTEND:{ics_time(soon(3, 11))}", "SUMMARY:Design review", *own, "END:VEVENT"]))
    two_way.sync()
    [activity] = two_way.activities()
    assert activity.subject == "Design review"
    before = scheduling_lines(two_way.server_objects()[href])
    assert not any("SCHEDULE-AGENT" in line for line in before)
    with session_scope(two_way.context.sessions) as s:  # every event is written again
        sync_accounts.update_settings(s, two_way.context.box, s.get(User, two_way.user_id), {"include_details": True})
    assert two_way.sync().pushed == 1
    text = two_way.server_objects()[href]
    assert "calsync" in text.lower()  # it was written
    assert scheduling_lines(text) == before  # ... but its scheduling lines are the user's, untouched
    # a CRM change of the guest list writes only the new guest's line, with SCHEDULE-AGENT=CLIENT
    two_way.edit(activity.id, attendees=[
        {"email": ME, "name": "Alice", "status": "accepted", "is_organizer": True},
        {"email": "ada@example.com", "name": "Ada"}, {"email": "cy@example.com"}])
    two_way.sync()
    after = scheduling_lines(two_way.server_objects()[href])
    assert [line for line in after if "cy@example.com" not in line] == before
    [new] = [line for line in after if "cy@example.com" in line]
    assert "SCHEDULE-AGENT=CLIENT" in new
