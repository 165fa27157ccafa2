"""Connecting Google Calendar in Chromium: Settings › Calendar sync → "Connect Google Calendar"
→ the emulator's consent page → "Allow" → back on the settings page with the account shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import People
from tests.google.conftest import App
from tests.support.google_emulator import USERS
from tests.web.conftest import browser, browser_context, page, shoot, sign_in  # noqa: F401  (fixtures)

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
