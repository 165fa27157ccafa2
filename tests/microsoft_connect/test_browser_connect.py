"""Connecting Microsoft 365 in Chromium: Settings › Calendar sync → "Connect Microsoft 365" →
the emulator's consent page → "Allow" → back on the settings page, the calendar still to choose;
choosing it makes the connection active."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import People
from tests.microsoft_connect.conftest import App
from tests.support.microsoft_emulator import USERS
from tests.web.conftest import browser_context, page, shoot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_connect_microsoft_365_through_the_consent_page_then_choose_the_calendar(app: App, people: People,
                                                                                page: Page) -> None:  # noqa: F811
    uid = people.add("ann@example.com")
    sign_in(page, app.base, "ann@example.com")
    page.goto(app.base + "/settings/calendar-sync")
    expect(page.get_by_text("attendees are not written as attendees to Microsoft 365 calendars")).to_be_attached()
    page.get_by_role("link", name="Connect Microsoft 365").click()
    page.wait_for_url(app.emulator.base + "/common/oauth2/v2.0/authorize*")
    page.locator("li", has_text=USERS[0]).get_by_role("button", name="Allow").click()
    page.wait_for_url(app.base + "/settings/calendar-sync*")
    expect(page.locator("#s-account")).to_contain_text(USERS[0])
    expect(page.locator("#s-state")).to_contain_text("Choose a calendar")
    page.locator("#f-calendar").select_option(label="Calendar")
    expect(page.locator("#s-state")).to_contain_text("Active")
    account = app.account(uid)
    assert account is not None and account.provider == "microsoft" and account.calendar_id and account.state != "choose_calendar"
    shoot(page, "microsoft-connected")


def test_a_revoked_grant_shows_the_reconnect_banner_naming_microsoft_365(app: App, people: People,
                                                                         page: Page) -> None:  # noqa: F811
    people.add("ann@example.com")
    sign_in(page, app.base, "ann@example.com")
    page.goto(app.base + "/settings/calendar-sync")
    page.get_by_role("link", name="Connect Microsoft 365").click()
    page.locator("li", has_text=USERS[0]).get_by_role("button", name="Allow").click()
    page.wait_for_url(app.base + "/settings/calendar-sync*")
    page.locator("#f-calendar").select_option(label="Calendar")
    expect(page.locator("#s-state")).to_contain_text("Active")
    app.emulator.post("/revoke", {"user": USERS[0]})
    app.emulator.post("/expire-access-tokens")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#auth-banner")).to_be_visible()
    expect(page.locator("#auth-banner")).to_contain_text("Microsoft 365 no longer accepts calsync's access")
    expect(page.locator("#s-last-error")).to_contain_text("reconnect Microsoft 365")
