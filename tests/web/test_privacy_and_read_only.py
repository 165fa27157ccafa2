"""What another user sees of a private activity (a "Busy" block with no details, in the calendar,
the list and the editor), and that a read-only recurring occurrence cannot be dragged."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import shoot, sign_in
from tests.web.helpers import activity, add_activity, next_monday

pytestmark = pytest.mark.browser

SECRET = "Secret merger talk with Initech"


def test_second_user_sees_the_private_activity_only_as_busy(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com")
    people.add("ben@example.com")
    monday = next_monday()
    private = add_activity(
        context, ann, subject=SECRET, type="meeting", private=True, location="Initech HQ, room 42",
        public_description="Confidential numbers", note="Do not share", start=f"{monday}T13:00:00+00:00",
        end=f"{monday}T14:00:00+00:00", attendees=[{"email": "bill@initech.example", "name": "Bill Lumbergh"}],
    )
    public = add_activity(context, ann, subject="Team lunch", type="lunch", start=f"{monday}T12:00:00+00:00",
                          end=f"{monday}T12:45:00+00:00")

    sign_in(page, live_url, "ben@example.com")
    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}&owner=everyone")
    busy = page.locator(f'.fc-event[data-activity-id="{private}"]')
    expect(busy).to_have_attribute("data-redacted", "true")
    expect(busy).to_contain_text("Busy")
    expect(page.locator(f'.fc-event[data-activity-id="{public}"]')).to_contain_text("Team lunch")
    busy.click()
    expect(page.locator("#d-title")).to_have_text("Busy")
    expect(page.locator("#d-open")).to_be_hidden()
    shoot(page, "calendar-busy-block")
    # Nowhere on the page, not in a tooltip or attribute: the subject, place, notes or attendees.
    html = page.content()
    for detail in (SECRET, "Initech HQ", "Confidential numbers", "Do not share", "bill@initech.example", "Lumbergh"):
        assert detail not in html

    # The owner filter on Ann shows the same block; dragging it is not offered.
    page.get_by_label("Show activities of").select_option(label="Ann")
    expect(busy).to_contain_text("Busy")
    assert "fc-event-draggable" not in (busy.get_attribute("class") or "")

    page.goto(f"{live_url}/activities?owner=everyone")
    row = page.locator(f"#activity-{private}")
    expect(row).to_contain_text("Busy")
    expect(row.get_by_role("checkbox")).to_have_count(0)
    page.goto(f"{live_url}/activities/{private}")
    expect(page.locator("h1")).to_contain_text("Busy")
    for detail in (SECRET, "Initech HQ", "Confidential numbers", "Do not share", "bill@initech.example"):
        assert detail not in page.content()

    # The owner sees everything.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
    expect(page.locator(f'.fc-event[data-activity-id="{private}"]')).to_contain_text(SECRET)


def test_a_read_only_occurrence_cannot_be_dragged(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com")
    monday = next_monday()
    occurrence = add_activity(
        context, ann, subject="Weekly sync (series)", type="meeting", start=f"{monday}T09:00:00+00:00",
        end=f"{monday}T10:00:00+00:00", source="sync", read_only=True, origin="calendar",
        series_uid="weekly-sync@calendar.example", occurrence_id="20261130T090000Z",
    )
    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
    event = page.locator(f'.fc-event[data-activity-id="{occurrence}"]')
    expect(event).to_have_attribute("data-read-only", "true")
    event.click()
    expect(page.locator("#d-flags")).to_contain_text("Read-only")

    hour = page.locator(".fc-timegrid-slot").nth(1).bounding_box()["height"] * 2  # type: ignore[index]
    box = event.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + 8
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 4, y + 4, steps=3)
    page.mouse.move(x, y + 3 * hour, steps=12)
    page.mouse.up()
    expect(page.locator("#toast")).to_contain_text("Not moved: this activity is an occurrence of a recurring event")
    # Back where it was on screen, and unchanged in the database.
    expect(event).to_be_visible()
    after = event.bounding_box()
    assert after is not None and abs(after["y"] - box["y"]) < 3
    stored = activity(context, occurrence)
    assert stored["start_at"] == dt.datetime.combine(monday, dt.time(9), dt.timezone.utc)
    assert stored["version"] == 1
    # The editor shows it read-only.
    page.goto(f"{live_url}/activities/{occurrence}")
    expect(page.locator("#read-only-notice")).to_be_visible()
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
