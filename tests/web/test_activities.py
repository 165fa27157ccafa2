"""Creating an activity in the editor and finding it, with its sync status, in the calendar and
list views; moving it by drag; list filters, paging and bulk "mark done"."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from calsync.store.db import session_scope
from calsync.store.tables import Activity, SyncAccount, SyncLink, User
from tests.web.conftest import shoot, sign_in
from tests.web.helpers import activity, add_activity, next_monday

pytestmark = pytest.mark.browser


def _connect_fake_account(context, user_id: int, push_types: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A stored sync account (no provider is contacted: the runner is off in these tests)."""
    with session_scope(context.sessions) as session:
        owner = session.get(User, user_id)
        session.add(SyncAccount(
            user_id=user_id, company_id=owner.company_id, provider="caldav", account_name="ann@calendar.example",
            credentials_encrypted=context.box.encrypt("{}"), calendar_id="cal", calendar_name="Work",
            push_types=push_types,
        ))


def _link(context, activity_id: int, *, status: str = "linked", error: str | None = None, synced: bool = True) -> None:  # type: ignore[no-untyped-def]
    with session_scope(context.sessions) as session:
        account = session.query(SyncAccount).one()
        row = session.get(Activity, activity_id)
        session.add(SyncLink(
            account_id=account.id, activity_id=activity_id, calendar_id="cal", event_id=f"ev-{activity_id}",
            origin="crm", status=status, error=error, synced_version=row.version if synced else 0,
        ))


def drag(page: Page, locator, dx: float, dy: float) -> None:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + min(8, box["height"] / 2)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 5, y + 5, steps=3)
    page.mouse.move(x + dx, y + dy, steps=12)
    page.mouse.up()


def test_create_activity_and_find_it_in_calendar_and_list_with_sync_status(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com", admin=True)
    _connect_fake_account(context, ann, push_types=["call", "meeting"])
    monday = next_monday()
    task = add_activity(context, ann, subject="Prepare quote", type="task", start=f"{monday}T14:00:00+00:00", end=f"{monday}T15:00:00+00:00")
    synced = add_activity(context, ann, subject="Kick-off meeting", type="meeting", start=f"{monday + dt.timedelta(days=1)}T09:00:00+00:00", end=f"{monday + dt.timedelta(days=1)}T10:00:00+00:00")
    failing = add_activity(context, ann, subject="Demo call", type="call", start=f"{monday + dt.timedelta(days=2)}T11:00:00+00:00", end=f"{monday + dt.timedelta(days=2)}T11:30:00+00:00")
    _link(context, synced)
    _link(context, failing, status="error", error="the server refused the event (403): check write access to the calendar")

    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/activities/new")
    page.get_by_label("Subject").fill("Call with Globex")
    page.get_by_label("Type").select_option("call")
    page.get_by_label("Start date").fill(monday.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("End date").fill(monday.isoformat())
    page.get_by_label("End time").fill("10:30")
    page.get_by_label("Time zone").select_option("UTC")
    page.get_by_label("Location").fill("Globex HQ, Springfield")
    page.get_by_label("Description").fill("Agenda: pricing")
    page.get_by_label("Note").fill("Ask about the budget")
    page.get_by_role("button", name="+ Add attendee").click()
    page.get_by_label("Attendee e-mail").fill("hank@globex.example")
    page.get_by_label("Attendee name").fill("Hank Scorpio")
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#saved-notice")).to_have_text("Saved.")
    created_id = int(re.search(r"/activities/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    stored = activity(context, created_id)
    assert stored["subject"] == "Call with Globex" and stored["location"] == "Globex HQ, Springfield"
    assert stored["start_at"] == dt.datetime.combine(monday, dt.time(10), dt.timezone.utc)
    expect(page.locator("#sync-status")).to_contain_text("Pending")
    expect(page.get_by_label("Attendee e-mail")).to_have_value("hank@globex.example")

    # Calendar view: the activity, its type colour and its sync status and account.
    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
    event = page.locator(f'.fc-event[data-activity-id="{created_id}"]')
    expect(event).to_contain_text("Call with Globex")
    expect(event).to_have_attribute("data-sync-status", "pending")
    expect(page.locator(f'.fc-event[data-activity-id="{task}"]')).to_have_attribute("data-sync-status", "not_synced")
    expect(page.locator(f'.fc-event[data-activity-id="{synced}"]')).to_have_attribute("data-sync-status", "synced")
    event.click()
    expect(page.locator("#d-sync")).to_have_text("Pending · ann@calendar.example")
    page.locator(f'.fc-event[data-activity-id="{failing}"]').click()
    expect(page.locator("#d-sync")).to_have_text(
        "Sync error: the server refused the event (403): check write access to the calendar · ann@calendar.example")
    page.locator(f'.fc-event[data-activity-id="{task}"]').click()
    expect(page.locator("#d-sync")).to_contain_text("Not synced (activities of type 'task' are not sent to the calendar)")
    shoot(page, "calendar-week")

    # Drag it two hours later: saved through the API, shown after a reload.
    hour = page.locator(".fc-timegrid-slot").nth(1).bounding_box()["height"] * 2  # type: ignore[index]
    drag(page, event, 0, 2 * hour)
    expect(page.locator("#toast")).to_contain_text("moved")
    assert activity(context, created_id)["start_at"] == dt.datetime.combine(monday, dt.time(12), dt.timezone.utc)

    # Month and day views show it as well.
    page.get_by_role("button", name="Month", exact=True).click()
    expect(page.locator(f'.fc-event[data-activity-id="{created_id}"]')).to_be_visible()
    shoot(page, "calendar-month")
    page.get_by_role("button", name="Day", exact=True).click()

    # List view: the row with type, due, owner, sync status and account.
    page.goto(f"{live_url}/activities?start={monday}")
    row = page.locator(f"#activity-{created_id}")
    expect(row).to_contain_text("Call with Globex")
    expect(row).to_contain_text("Call")
    expect(row).to_contain_text("12:00")
    expect(row.locator(".sync")).to_contain_text("Pending")
    expect(row.locator(".sync")).to_contain_text("ann@calendar.example")
    expect(page.locator(f"#activity-{task} .sync")).to_contain_text("Not synced (activities of type 'task' are not sent to the calendar)")
    expect(page.locator(f"#activity-{failing} .sync")).to_contain_text("Sync error the server refused the event (403)")
    expect(page.locator(f"#activity-{synced} .sync")).to_contain_text("Synced")
    shoot(page, "activities-list")


def test_list_filters_paging_done_and_bulk_done(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com")
    ben = people.add("ben@example.com")
    monday = next_monday()
    for n in range(52):
        day = monday + dt.timedelta(days=n % 5)
        add_activity(context, ann, subject=f"Call {n:02d}", type="call", start=f"{day}T{8 + n // 5:02d}:00:00+00:00")
    task = add_activity(context, ann, subject="Send proposal", type="task", start=f"{monday}T07:00:00+00:00")
    bens = add_activity(context, ben, subject="Ben's lunch", type="lunch", start=f"{monday}T12:00:00+00:00")

    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/activities")
    rows = page.locator("#activities tbody tr[data-activity-id]")
    expect(rows).to_have_count(50)
    expect(page.locator(f"#activity-{bens}")).to_have_count(0)  # "Me" is the default owner
    first = set(page.locator("#activities td.subject a").all_inner_texts())
    page.locator("#next-page").click()
    expect(rows).to_have_count(3)
    second = set(page.locator("#activities td.subject a").all_inner_texts())
    assert not first & second and len(first | second) == 53
    page.get_by_role("link", name="← Previous").click()
    expect(rows).to_have_count(50)

    page.get_by_label("Owner").select_option("everyone")
    page.get_by_label("Type").select_option("lunch")
    expect(rows).to_have_count(1)
    expect(page.locator(f"#activity-{bens}")).to_contain_text("Ben's lunch")
    page.get_by_label("Owner").select_option("me")
    page.get_by_label("Type").select_option("task")
    expect(rows).to_have_count(1)

    # Done checkbox on one row, then bulk "mark done" on two more.
    page.locator(f"#activity-{task}").get_by_label("Done: Send proposal").check()
    expect(page.locator(f"#activity-{task}")).to_have_class(re.compile(r"\bdone\b"))
    assert activity(context, task)["done"] is True
    page.get_by_label("Type").select_option("")
    page.get_by_label("From", exact=True).fill(monday.isoformat())
    page.get_by_label("To", exact=True).fill(monday.isoformat())
    page.get_by_label("To", exact=True).dispatch_event("change")
    expect(rows).to_have_count(12)  # Monday: 11 calls and the task (the table is swapped in by htmx)
    expect(page).to_have_url(re.compile(r"end=" + monday.isoformat()))
    page.get_by_label("Select Call 00").check()
    page.get_by_label("Select Call 05").check()
    page.get_by_role("button", name="Mark selected done").click()
    expect(page.locator("#bulk-message")).to_have_text("2 marked done.")
    page.get_by_label("Status").select_option("done")
    expect(rows).to_have_count(3)
    page.get_by_label("Status").select_option("open")
    expect(page.locator("#activities")).not_to_contain_text("Send proposal")


def test_calendar_shows_and_saves_times_in_the_users_time_zone(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    """The browser runs in UTC; the user lives in New York: the calendar speaks New York time."""
    from zoneinfo import ZoneInfo

    ann = people.add("ann@example.com", timezone="America/New_York")
    monday = next_monday()
    york = ZoneInfo("America/New_York")
    start = dt.datetime.combine(monday, dt.time(9), york)
    meeting = add_activity(context, ann, subject="Standup in New York", type="meeting",
                           start=start.isoformat(), end=(start + dt.timedelta(hours=1)).isoformat())
    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
    expect(page.get_by_text("Times in America/New_York")).to_be_visible()
    event = page.locator(f'.fc-event[data-activity-id="{meeting}"]')
    expect(event).to_contain_text("09:00 - 10:00")
    event.click()
    expect(page.locator("#d-when")).to_contain_text("09:00–10:00")
    hour = page.locator(".fc-timegrid-slot").nth(1).bounding_box()["height"] * 2  # type: ignore[index]
    drag(page, event, 0, 2 * hour)
    expect(page.locator("#toast")).to_contain_text("moved")
    moved = dt.datetime.combine(monday, dt.time(11), york).astimezone(dt.timezone.utc)
    assert activity(context, meeting)["start_at"] == moved
    assert activity(context, meeting)["timezone"] == "America/New_York"
    expect(event).to_contain_text("11:00 - 12:00")

    # Resizing its end by half an hour saves the new end the same way.
    event.hover()
    handle = event.locator(".fc-event-resizer-end")
    box = handle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + hour / 2, steps=10)
    with page.expect_response(lambda r: r.request.method == "PATCH" and f"/api/v1/activities/{meeting}" in r.url) as saved:
        page.mouse.up()
    assert saved.value.ok
    expect(page.locator("#toast")).to_contain_text("resized")
    expect(event).to_contain_text("11:00 - 12:30")
    assert activity(context, meeting)["end_at"] == dt.datetime.combine(monday, dt.time(12, 30), york).astimezone(dt.timezone.utc)

    # Clicking an empty slot opens the editor at that time, in the user's zone.
    tuesday = monday + dt.timedelta(days=1)
    column = page.locator(f'.fc-timegrid-col[data-date="{tuesday}"]').bounding_box()
    lane = page.locator('.fc-timegrid-slot-lane[data-time="14:00:00"]').bounding_box()
    assert column is not None and lane is not None
    page.mouse.click(column["x"] + column["width"] / 2, lane["y"] + lane["height"] / 2)
    expect(page).to_have_url(re.compile(r"/activities/new\?"))
    expect(page.get_by_label("Start date")).to_have_value(tuesday.isoformat())
    expect(page.get_by_label("Start time")).to_have_value("14:00")
    expect(page.get_by_label("End time")).to_have_value("14:30")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
