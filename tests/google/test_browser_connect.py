"""Connecting Google Calendar in Chromium: Settings › Calendar sync → "Connect Google Calendar"
→ the emulator's consent page → "Allow" → back on the settings page with the account shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import People
from tests.google.conftest import App
from tests.support.google_emulator import USERS
from tests.web.conftest import browser_context, page, shoot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_connect_google_calendar_through_the_consent_page(app: App, people: People, page: Page) -> None:  # noqa: F811
    people.add("ann@example.com")
    sign_in(page, app.base, "ann@example.com")
    page.goto(app.base + "/settings/calendar-sync")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.wait_for_url(app.emulator.base + "/o/oauth2/v2/auth*")
    page.locator("li", has_text=USERS[0]).get_by_role("button", name="Allow").click()
    page.wait_for_url(app.base + "/settings/calendar-sync*")
    expect(page.locator("#status-panel")).to_be_visible()
    expect(page.locator("#s-account")).to_contain_text(USERS[0])
    shoot(page, "google-connected")


def test_sync_both_ways_then_a_revoked_grant_shows_the_banner(app: App, people: People, page: Page) -> None:  # noqa: F811
    import datetime as dt

    from sqlalchemy import select

    from calsync.store.db import session_scope
    from calsync.store.tables import Activity

    uid = people.add("ann@example.com")
    sign_in(page, app.base, "ann@example.com")
    page.goto(app.base + "/settings/calendar-sync")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.locator("li", has_text=USERS[0]).get_by_role("button", name="Allow").click()
    page.wait_for_url(app.base + "/settings/calendar-sync*")
    expect(page.locator("#s-state")).to_contain_text("Choose a calendar")
    page.locator("#f-calendar").select_option(USERS[0])
    expect(page.locator("#s-state")).to_contain_text("Active")
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(microsecond=0)
    app.emulator.client(USERS[0]).post(f"/calendars/{USERS[0]}/events", json={
        "summary": "Dentist", "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat()}})
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#s-last-success")).not_to_have_text("never")
    with session_scope(app.context.sessions) as s:
        assert [a.subject for a in s.scalars(select(Activity).where(Activity.owner_id == uid))] == ["Dentist"]

    app.emulator.post("/revoke", {"user": USERS[0]})
    app.emulator.post("/expire-access-tokens")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#auth-banner")).to_be_visible()
    expect(page.locator("#auth-banner")).to_contain_text("Google Calendar no longer accepts calsync's access")
    expect(page.locator("#s-last-error")).to_contain_text("reconnect Google Calendar")
    shoot(page, "google-auth-error")
