"""The activity list as the viewer reads it: grouped under their own local dates, the real
reason an item is not synced, and one time format on the list, the trash and the run log."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from calsync.crm.services import activities as activity_service
from calsync.store.db import session_scope
from calsync.store.tables import Activity, SyncAccount, SyncRun, User
from tests.web.conftest import shoot, sign_in
from tests.web.helpers import add_activity

pytestmark = pytest.mark.browser

UTC = dt.timezone.utc


def _account(context, user_id: int, push_types: list[str] | None, *, created: dt.datetime | None = None,  # type: ignore[no-untyped-def]
             last_success: dt.datetime | None = None) -> int:
    """A stored sync account (no provider is contacted: the runner is off in these tests)."""
    with session_scope(context.sessions) as session:
        owner = session.get(User, user_id)
        account = SyncAccount(
            user_id=user_id, company_id=owner.company_id, provider="caldav", account_name="ann@calendar.example",
            credentials_encrypted=context.box.encrypt("{}"), calendar_id="cal", calendar_name="Work",
            push_types=push_types, last_success_at=last_success,
        )
        if created is not None:
            account.created_at = created
        session.add(account)
        session.flush()
        return account.id


def _sign_out(page: Page) -> None:
    page.context.clear_cookies()


def test_the_list_groups_by_the_viewers_local_date_and_all_day_items_keep_theirs(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    tokyo = people.add("kenji@example.com", timezone="Asia/Tokyo")
    angeles = people.add("lara@example.com", timezone="America/Los_Angeles")
    for owner in (tokyo, angeles):
        add_activity(context, owner, subject="Late call", type="call", start="2026-12-01T23:30:00+00:00", end="2026-12-02T00:00:00+00:00")
        add_activity(context, owner, subject="Trade fair", type="meeting", start="2026-12-01", end="2026-12-02", all_day=True)

    def heading_of(subject: str):  # type: ignore[no-untyped-def]
        group = page.locator("tbody.day-group").filter(has=page.get_by_role("link", name=subject))
        expect(group).to_have_count(1)
        return group.locator("tr.day-heading")

    sign_in(page, live_url, "kenji@example.com")
    page.goto(f"{live_url}/activities?start=2026-11-28&end=2026-12-05")
    expect(heading_of("Late call")).to_have_text("Wed 02 Dec")  # 08:30 in Tokyo
    expect(heading_of("Trade fair")).to_have_text("Tue 01 Dec")
    expect(page.locator("#activities tr.day-heading")).to_have_text(["Tue 01 Dec", "Wed 02 Dec"])
    expect(page.get_by_role("row", name=re.compile("Late call"))).to_contain_text("Wed 02 Dec, 08:30–09:00")

    _sign_out(page)
    sign_in(page, live_url, "lara@example.com")
    page.goto(f"{live_url}/activities?start=2026-11-28&end=2026-12-05")
    expect(heading_of("Late call")).to_have_text("Tue 01 Dec")  # 15:30 in Los Angeles
    expect(heading_of("Trade fair")).to_have_text("Tue 01 Dec")
    expect(page.locator("#activities tr.day-heading")).to_have_text(["Tue 01 Dec"])
    expect(page.get_by_role("row", name=re.compile("Late call"))).to_contain_text("Tue 01 Dec, 15:30–16:00")
    shoot(page, "activities-list-by-day", docs=True)


def test_not_synced_rows_say_why_in_the_list_and_the_calendar_panel(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    _account(context, ann, ["meeting"], created=now - dt.timedelta(days=10))
    yesterday = now - dt.timedelta(days=1)
    past = add_activity(context, ann, subject="Old meeting", type="meeting",
                        start=yesterday.isoformat(), end=(yesterday + dt.timedelta(hours=1)).isoformat())
    later = now + dt.timedelta(days=2)
    task = add_activity(context, ann, subject="Write offer", type="task",
                        start=later.isoformat(), end=(later + dt.timedelta(hours=1)).isoformat())

    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/activities?start={(now - dt.timedelta(days=3)).date()}")
    past_badge = page.locator(f"#activity-{past} .sync")
    expect(past_badge).to_contain_text("Not synced (was over before it was synced")
    expect(past_badge).not_to_contain_text("type")
    expect(page.locator(f"#activity-{task} .sync")).to_contain_text(
        "Not synced (activities of type 'task' are not sent to the calendar)")

    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={yesterday.date()}")
    page.locator(f'.fc-event[data-activity-id="{past}"]').click()
    expect(page.locator("#d-sync")).to_contain_text("Not synced (was over before it was synced")


def test_one_time_format_on_list_trash_and_run_log(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    zone = "Asia/Tokyo"
    ann = people.add("ann@example.com", timezone=zone)
    success = dt.datetime(2026, 11, 30, 16, 5, tzinfo=UTC)  # Tokyo: Tue 01 Dec, 01:05
    account_id = _account(context, ann, None, last_success=success)
    started = dt.datetime(2026, 11, 30, 15, 45, tzinfo=UTC)  # Tokyo: Tue 01 Dec, 00:45
    with session_scope(context.sessions) as session:
        session.add(SyncRun(account_id=account_id, trigger="manual", started_at=started, finished_at=started + dt.timedelta(minutes=1),
                            status="ok", entries=[]))
    kept = add_activity(context, ann, subject="Budget review", type="meeting", start="2026-12-03T01:15:00+00:00", end="2026-12-03T02:00:00+00:00")
    gone = add_activity(context, ann, subject="Cancelled lunch", type="meeting", start="2026-12-04T03:00:00+00:00", end="2026-12-04T04:00:00+00:00")
    with session_scope(context.sessions) as session:
        activity_service.delete_activity(session, session.get(User, ann), gone, source="ui")
    with session_scope(context.sessions) as session:
        deleted_at = session.get(Activity, gone).deleted_at
    assert deleted_at is not None
    formatted = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)( \d{4})?, \d\d:\d\d")

    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/activities?start=2026-12-01")
    due = page.locator(f"#activity-{kept} td").nth(7)
    expect(due).to_have_text("Thu 03 Dec, 10:15–11:00")
    assert formatted.match(due.inner_text())

    page.goto(f"{live_url}/settings/calendar-sync")
    run = page.locator("#run-log tbody tr").first.locator("td").first
    expect(run).to_have_text("Tue 01 Dec, 00:45")
    expect(page.locator("#s-last-success")).to_have_text("Tue 01 Dec, 01:05")
    trashed = page.locator(f'#trash tr[data-activity-id="{gone}"] td')
    expect(trashed.nth(2)).to_have_text("Fri 04 Dec, 12:00–13:00")
    # deleted just now, so in this year: no year in the text
    expect(trashed.nth(4)).to_have_text(deleted_at.astimezone(ZoneInfo(zone)).strftime("%a %d %b, %H:%M"))
    for text in (run.inner_text(), trashed.nth(4).inner_text(), page.locator("#s-last-success").inner_text()):
        assert formatted.fullmatch(text), text
