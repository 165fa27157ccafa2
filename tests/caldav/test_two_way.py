"""Two-way sync end to end: CRM activities <-> a calendar on a real Radicale (and Xandikos) server,
through the sync engine, as a user would see it on both sides."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from calsync.crm.schemas import ActivityCreate, ActivityUpdate
from calsync.crm.services import accounts as crm_accounts
from calsync.crm.services import activities
from calsync.providers.caldav import CalDavProvider
from calsync.store.db import session_scope
from calsync.store.tables import Activity, SyncAccount, User
from calsync.sync import accounts as sync_accounts
from calsync.sync.engine import SyncEngine, open_with_registry
from calsync.sync.summary import RunSummary
from calsync.web.context import AppContext
from tests.support.harness import DavHarness, ics_time

UTC = dt.timezone.utc


def soon(days: int, hour: int = 10) -> dt.datetime:
    base = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return base + dt.timedelta(days=days, hours=hour)


class TwoWay:
    """alice@example.com in the CRM, connected to a fresh calendar on the server."""

    def __init__(self, context: AppContext, dav: DavHarness) -> None:
        self.context, self.dav = context, dav
        self.providers: list[CalDavProvider] = []
        opener = open_with_registry(context.box)

        def tracking_opener(account: SyncAccount) -> Any:
            provider = opener(account)
            self.providers.append(provider)  # type: ignore[arg-type]
            return provider

        self.engine = SyncEngine(context.sessions, tracking_opener)
        with session_scope(context.sessions) as s:
            user, _ = crm_accounts.add_user(s, context.box, email="alice@example.com", password="password-123",
                                            company_name="Acme")
            self.user_id = user.id
            password = dav.server.users.get(dav.user) if dav.server.users else "unused-password"
            account = sync_accounts.connect(s, context.box, user, "caldav", {
                "url": dav.server.url, "username": dav.user, "password": password, "calendar": dav.calendar_id})
            assert account.calendar_id == dav.calendar_id
            self.account_id = account.id

    def sync(self) -> RunSummary:
        summary = self.engine.run(self.account_id)
        assert summary.status == "ok", summary
        return summary

    def create(self, subject: str, start: dt.datetime, **fields: Any) -> int:
        data = dict(subject=subject, type="meeting", start=start.isoformat(),
                    end=(start + dt.timedelta(hours=1)).isoformat(), timezone="Europe/Berlin")
        data.update(fields)
        with session_scope(self.context.sessions) as s:
            return activities.create_activity(s, s.get(User, self.user_id), ActivityCreate(**data)).id

    def edit(self, activity_id: int, **fields: Any) -> None:
        with session_scope(self.context.sessions) as s:
            activities.update_activity(s, s.get(User, self.user_id), activity_id, ActivityUpdate(**fields))

    def delete(self, activity_id: int) -> None:
        with session_scope(self.context.sessions) as s:
            activities.delete_activity(s, s.get(User, self.user_id), activity_id)

    def activities(self, *, deleted: bool = False) -> list[Activity]:
        with session_scope(self.context.sessions) as s:
            rows = list(s.scalars(select(Activity).where(Activity.owner_id == self.user_id,
                                                         Activity.deleted.is_(deleted)).order_by(Activity.id)))
            for row in rows:
                s.expunge(row)
            return rows

    def server_objects(self) -> dict[str, str]:
        """href -> iCalendar text of every object in the calendar, read as another client would."""
        provider = CalDavProvider(self.dav.server.url, self.dav.user if self.dav.server.users else None,
                                  self.dav.server.users.get(self.dav.user) if self.dav.server.users else None)
        try:
            members = provider.client.propfind(self.dav.calendar_id, "D:getetag", depth="1").responses
            hrefs = [m.href for m in members if not m.href.endswith("/")]
            return {h: self.dav.get_ics(h).replace("\r\n ", "") for h in hrefs}
        finally:
            provider.close()


@pytest.fixture
def two_way(crm_context: AppContext, dav: DavHarness) -> TwoWay:
    return TwoWay(crm_context, dav)


def test_crm_activity_goes_to_the_calendar_and_edits_and_deletes_follow(two_way: TwoWay) -> None:
    activity_id = two_way.create("Call Ada", soon(2))
    two_way.sync()
    [(href, text)] = two_way.server_objects().items()
    assert "SUMMARY:Call Ada" in text
    uuid = two_way.activities()[0].uuid
    assert f"X-CALSYNC-ACTIVITY-ID:{uuid}" in text and href.endswith(f"{uuid}.ics")
    assert "DTSTART;TZID=Europe/Berlin" in text

    two_way.edit(activity_id, subject="Call Ada (moved)", start=soon(3).isoformat(), end=soon(3, 11).isoformat())
    two_way.sync()
    text = two_way.server_objects()[href]
    assert "SUMMARY:Call Ada (moved)" in text
    assert ics_time(soon(3)) in text or "DTSTART;TZID=Europe/Berlin:" + soon(3).astimezone(
        dt.timezone(dt.timedelta(hours=1))).strftime("%Y%m%d") in text

    two_way.delete(activity_id)
    two_way.sync()
    assert two_way.server_objects() == {}


def test_calendar_event_comes_into_the_crm_and_edits_and_deletes_follow(two_way: TwoWay) -> None:
    href = two_way.dav.put_single("Dentist", soon(4), soon(4, 11))
    two_way.sync()
    [imported] = two_way.activities()
    assert imported.subject == "Dentist" and imported.origin == "calendar"
    assert imported.start_at == soon(4)

    two_way.dav.edit_summary(href, "Dentist (rescheduled)")
    two_way.sync()
    assert [a.subject for a in two_way.activities()] == ["Dentist (rescheduled)"]

    two_way.dav.delete(href)
    two_way.sync()
    assert two_way.activities() == []
    assert [a.subject for a in two_way.activities(deleted=True)] == ["Dentist (rescheduled)"]


def test_crm_edit_of_an_imported_event_keeps_its_alarm_and_other_properties(two_way: TwoWay) -> None:
    href = two_way.dav.put_ics(f"""BEGIN:VEVENT
UID:alarm-test-1
DTSTAMP:20260101T000000Z
DTSTART:{ics_time(soon(5))}
DTEND:{ics_time(soon(5, 11))}
SUMMARY:Quarterly review
X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT30M
END:VALARM
END:VEVENT""")
    two_way.sync()
    [imported] = two_way.activities()
    two_way.edit(imported.id, subject="Quarterly review (room 2)")
    two_way.sync()
    text = two_way.server_objects()[href]
    assert "SUMMARY:Quarterly review (room 2)" in text
    assert "TRIGGER:-PT30M" in text and "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC" in text
    assert "UID:alarm-test-1" in text


def test_recurring_series_becomes_read_only_occurrences_that_follow_moves_and_cancels(two_way: TwoWay) -> None:
    series = two_way.dav.put_daily_series("Standup", soon(1, 9), 3)
    two_way.sync()
    occurrences = two_way.activities()
    assert len(occurrences) == 3 and all(a.read_only and a.series_uid for a in occurrences)
    first, second, third = sorted(occurrences, key=lambda a: a.start_at)  # type: ignore[arg-type, return-value]
    rid_second = second.occurrence_id or ""
    rid_third = third.occurrence_id or ""
    assert rid_second and rid_third

    two_way.dav.move_occurrence(series, rid_second, soon(2, 15), soon(2, 16))
    two_way.sync()
    moved = {a.occurrence_id: a for a in two_way.activities()}
    assert moved[rid_second].start_at == soon(2, 15) and len(moved) == 3

    two_way.dav.cancel_occurrence(series, rid_third)
    two_way.sync()
    assert sorted(a.occurrence_id for a in two_way.activities()) == sorted([first.occurrence_id, rid_second])


def test_private_calendar_event_is_private_in_the_crm_and_private_activity_is_private_on_the_server(
        two_way: TwoWay) -> None:
    two_way.dav.put_single("Doctor", soon(6), soon(6, 11), privacy="private")
    two_way.create("Salary talk", soon(7), private=True)
    two_way.sync()
    by_subject = {a.subject: a for a in two_way.activities()}
    assert by_subject["Doctor"].private is True
    texts = "\n".join(two_way.server_objects().values())
    salary = next(t for t in two_way.server_objects().values() if "Salary talk" in t)
    assert "CLASS:PRIVATE" in salary
    assert "Doctor" in texts


def test_idle_sync_costs_one_request(two_way: TwoWay) -> None:
    two_way.create("Call Ada", soon(2))
    two_way.dav.put_single("Dentist", soon(4), soon(4, 11))
    two_way.sync()
    two_way.sync()  # settles (the push of the CRM activity shows up once in the change feed)
    two_way.sync()
    idle = two_way.providers[-1].counter
    assert idle.total == 1, idle.by_method
    assert re.search("REPORT", str(idle.by_method))
