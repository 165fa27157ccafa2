"""Two-way sync with Google Calendar clicked in Chromium, with the app's embedded runner polling
only once an hour, so what arrives from Google arrives by push: connect on the consent page,
choose the calendar, create, edit and delete activities in the CRM's editor (each reaches
Google), and edit and delete in Google (each notification makes the app sync, and the change
shows in the CRM's pages)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from calsync.store.db import session_scope
from calsync.store.tables import Activity
from tests.conftest import People
from tests.google.conftest import App
from tests.support.google_emulator import USERS
from tests.web.conftest import browser_context, page, shoot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
CAL = USERS[0]


@pytest.fixture
def app_settings() -> dict[str, object]:
    return {"runner": "embedded", "sync_interval_seconds": 3600, "sync_debounce_seconds": 0.2}


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Polls a condition on the other side (Google's API, the database) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return check()


def google_events(app: App) -> dict[str, dict[str, Any]]:
    """The live events of the calendar, by summary, as Google lists them."""
    items = app.emulator.client(CAL).get(f"/calendars/{CAL}/events").json()["items"]
    return {e["summary"]: e for e in items if e.get("status") != "cancelled"}


def live_subjects(app: App, user_id: int) -> set[str]:
    with session_scope(app.context.sessions) as s:
        return set(s.scalars(select(Activity.subject).where(Activity.owner_id == user_id, Activity.deleted.is_(False))))


def has_channel(app: App, user_id: int) -> bool:
    account = app.account(user_id)
    return account is not None and bool(json.loads(app.context.box.decrypt(account.credentials_encrypted)).get("channel"))


def fill_activity(page: Page, subject: str, day: dt.date) -> None:
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Type").select_option("call")
    page.get_by_label("Start date").fill(day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("End date").fill(day.isoformat())
    page.get_by_label("End time").fill("10:30")
    page.get_by_label("Time zone").select_option("UTC")


def test_edits_and_deletions_on_both_sides_and_push_in_chromium(app: App, people: People, page: Page) -> None:  # noqa: F811
    uid = people.add("ann@example.com")
    day = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).date()
    start = dt.datetime.combine(day, dt.time(15), dt.timezone.utc)
    dentist = app.emulator.client(CAL).post(f"/calendars/{CAL}/events", json={
        "summary": "Dentist", "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat()}}).json()

    sign_in(page, app.base, "ann@example.com")
    page.goto(app.base + "/settings/calendar-sync")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.locator("li", has_text=CAL).get_by_role("button", name="Allow").click()
    page.wait_for_url(app.base + "/settings/calendar-sync*")
    page.locator("#f-calendar").select_option(CAL)  # saved at once; the first sync starts
    assert wait_until(lambda: "Dentist" in live_subjects(app, uid)), live_subjects(app, uid)
    page.reload()
    expect(page.locator("#s-last-success")).not_to_have_text("never")
    assert wait_until(lambda: has_channel(app, uid))  # opened after the first sync: push from here on

    # CRM → Google: create, edit, delete in the editor
    page.goto(app.base + "/activities/new")
    fill_activity(page, "Call Globex", day)
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#saved-notice")).to_have_text("Saved.")
    call_id = int(re.search(r"/activities/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert wait_until(lambda: "Call Globex" in google_events(app)), google_events(app).keys()
    page.get_by_label("Subject").fill("Call Globex (moved)")
    page.get_by_label("Start time").fill("11:00")
    page.get_by_label("End time").fill("11:30")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    moved = wait_until(lambda: google_events(app).get("Call Globex (moved)"))
    assert moved and moved["start"]["dateTime"].startswith(f"{day.isoformat()}T11:00"), moved

    page.goto(app.base + "/activities/new")
    fill_activity(page, "Lunch with Dan", day)
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#saved-notice")).to_have_text("Saved.")
    assert wait_until(lambda: "Lunch with Dan" in google_events(app))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(app.base + "/activities")
    assert wait_until(lambda: "Lunch with Dan" not in google_events(app)), google_events(app).keys()

    # Google → CRM, by push only (the runner polls once an hour)
    app.emulator.client(CAL).patch(f"/calendars/{CAL}/events/{dentist['id']}", json={"summary": "Dentist (Dr. Who)"})
    assert wait_until(lambda: "Dentist (Dr. Who)" in live_subjects(app, uid)), live_subjects(app, uid)
    call_event = google_events(app)["Call Globex (moved)"]
    app.emulator.client(CAL).patch(f"/calendars/{CAL}/events/{call_event['id']}", json={"location": "Globex HQ"})
    app.emulator.client(CAL).delete(f"/calendars/{CAL}/events/{dentist['id']}")
    assert wait_until(lambda: "Dentist (Dr. Who)" not in live_subjects(app, uid)), live_subjects(app, uid)

    page.goto(app.base + f"/activities/{call_id}")
    expect(page.get_by_label("Location")).to_have_value("Globex HQ")
    page.goto(app.base + "/activities")
    expect(page.locator("main")).to_contain_text("Call Globex (moved)")
    expect(page.locator("main")).not_to_contain_text("Dentist")
    page.goto(app.base + "/settings/calendar-sync")
    expect(page.locator("#trash")).to_contain_text("Dentist (Dr. Who)")  # deleted in Google: restorable
    shoot(page, "google-two-way-push")
    notifications = app.emulator.control.get("/notifications").json()["notifications"]
    assert any(n["headers"]["X-Goog-Resource-State"] == "exists" and n["outcome"] == "delivered" for n in notifications)
