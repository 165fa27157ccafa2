"""The calendar's 500 cap made visible, and the pages at phone width (no sideways scrolling,
the menu behind a button)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Browser, Page, expect

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services import activities
from calsync.store.db import session_scope
from calsync.store.tables import User
from tests.web.conftest import shoot, sign_in
from tests.web.helpers import add_activity, next_monday

pytestmark = pytest.mark.browser


def test_calendar_says_when_the_range_holds_more_than_500(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com")
    monday = next_monday()
    with session_scope(context.sessions) as session:
        actor = session.get(User, ann)
        for n in range(520):
            start = dt.datetime.combine(monday + dt.timedelta(days=n % 5), dt.time(8), dt.timezone.utc) + dt.timedelta(minutes=n)
            activities.create_activity(session, actor, ActivityCreate(subject=f"Call {n}", type="call", start=start.isoformat()))  # type: ignore[arg-type]
    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
    expect(page.locator("#capped")).to_have_text(
        "Showing 500 of 520 — narrow the range (pick a shorter view or one person) to see them all.")
    page.get_by_role("button", name="Day", exact=True).click()
    expect(page.locator("#capped")).to_be_hidden()
    expect(page.locator(".fc-event")).to_have_count(104)


def test_pages_fit_a_phone_screen(browser: Browser, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com", admin=True)
    today = dt.date.today()
    monday = next_monday()
    add_activity(context, ann, subject="Call Globex", type="call", start=f"{today}T10:00:00+00:00", end=f"{today}T10:30:00+00:00")
    add_activity(context, ann, subject="Site visit", type="meeting", start=f"{today}T13:00:00+00:00", end=f"{today}T15:00:00+00:00")
    add_activity(context, ann, subject="Send proposal", type="task", start=f"{monday}T09:00:00+00:00")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True, timezone_id="UTC", locale="en-GB")
    try:
        page = phone.new_page()
        sign_in(page, live_url, "ann@example.com")
        for path, name in (("/calendar", "phone-calendar"), ("/activities", "phone-activities"),
                           ("/activities/new", "phone-editor"), ("/settings/calendar-sync", "phone-settings")):
            page.goto(live_url + path)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px screen"
            shoot(page, name, docs=name in ("phone-calendar", "phone-activities"))
        expect(page.get_by_role("link", name="Activities")).to_be_hidden()
        page.locator(".nav-toggle-label").click()
        expect(page.get_by_role("link", name="Activities")).to_be_visible()
        page.get_by_role("link", name="Activities").click()
        expect(page.locator("#activities")).to_contain_text("Call Globex")
    finally:
        phone.close()
