"""Settings › Calendar sync against a real Radicale: connect (and the refusal of a mail server),
every setting saved on change and kept after a reload, start/stop/disconnect, and "sync now"
bringing an event made in Radicale into the calendar view."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.radicale import DavServer, radicale_server
from tests.web.a11y import assert_accessible
from tests.web.conftest import shoot, sign_in
from tests.web.helpers import add_activity, next_monday

pytestmark = pytest.mark.browser

NOT_A_CALENDAR = "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV calendar"


@pytest.fixture
def dav() -> Iterator[DavServer]:
    with radicale_server({"ann": "ann-app-pass-1"}) as server:
        yield server


def connect_caldav(page: Page, dav: DavServer, password: str = "ann-app-pass-1") -> None:
    page.locator("#caldav-url").fill(dav.url)
    page.locator("#caldav-username").fill("ann")
    page.locator("#caldav-password").fill(password)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.locator("#status-panel")).to_be_visible()


def event_ics(uid: str, summary: str, start: dt.datetime, end: dt.datetime, extra: str = "") -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start.strftime(fmt)}\r\nDTEND:{end.strftime(fmt)}\r\n"
        f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_every_sync_setting_saves_on_change_and_survives_a_reload(page: Page, live_url: str, people, dav: DavServer) -> None:  # type: ignore[no-untyped-def]
    dav.make_calendar("ann", "work", display="Work")
    personal = dav.make_calendar("ann", "personal", display="Personal")
    people.add("ann@example.com")
    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/settings/calendar-sync")
    expect(page.locator("#connect-panel")).to_be_visible()

    # A mail server is refused with the API's message; presets fill the URL.
    page.get_by_label("Server URL").fill("imap.example.com")
    page.get_by_label("User name").fill("ann@example.com")
    page.get_by_label("App password").fill("secret-pass")
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.locator("#connect-error")).to_contain_text(NOT_A_CALENDAR)
    page.get_by_label("Server URL").fill("ann@example.com")  # an e-mail address is no server either
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.locator("#connect-error")).to_contain_text("an e-mail address is not a calendar server")
    page.get_by_label("Server preset").select_option(label="Fastmail — https://caldav.fastmail.com/dav/")
    expect(page.get_by_label("Server URL")).to_have_value("https://caldav.fastmail.com/dav/")
    page.get_by_label("Server preset").select_option(label="Nextcloud — https://YOUR-SERVER/remote.php/dav")
    expect(page.locator("#caldav-url-hint")).to_be_visible()

    connect_caldav(page, dav)
    expect(page.locator("#s-account")).to_contain_text("ann")
    expect(page.locator("#connect-panel")).to_be_hidden()
    # Two calendars: nothing syncs until one is chosen.
    expect(page.locator("#choose-panel")).to_be_visible()
    page.get_by_label("Work").check()
    page.get_by_role("button", name="Sync with this calendar").click()
    expect(page.locator("#choose-panel")).to_be_hidden()
    expect(page.locator("#s-calendar")).to_have_text("Work")

    def saved(field: str) -> None:
        expect(page.locator(f'[data-saved-for="{field}"]')).to_have_text("Saved")
        expect(page.locator(f'[data-saved-for="{field}"]')).to_have_class(re.compile(r"\bshow\b"))

    expect(page.locator("#f-calendar option")).to_have_count(2)
    page.get_by_label("Calendar", exact=True).select_option(personal)
    saved("calendar_id")
    page.get_by_label("One-way, CRM to calendar").check()
    saved("sync_type")
    page.get_by_label("Only me").check()
    saved("external_event_visibility")
    page.get_by_label("Do not sync").check()
    saved("private_events")
    page.locator("#f-import-type").select_option("call")
    saved("import_type")
    page.get_by_label("All types, including ones added later").uncheck()
    saved("push_types")
    for key in ("task", "deadline", "email", "lunch"):
        page.locator(f'input[name="push_type"][value="{key}"]').uncheck()
    saved("push_types")
    page.locator("#f-include-details").check()
    saved("include_details")
    page.locator("#f-send-invitations").check()
    saved("send_invitations")
    shoot(page, "settings-calendar-sync")

    page.reload()
    expect(page.locator("#f-calendar")).to_have_value(personal)
    expect(page.get_by_label("One-way, CRM to calendar")).to_be_checked()
    expect(page.get_by_label("Only me")).to_be_checked()
    expect(page.get_by_label("Do not sync")).to_be_checked()
    expect(page.locator("#f-import-type")).to_have_value("call")
    expect(page.get_by_label("All types, including ones added later")).not_to_be_checked()
    checked = page.locator('input[name="push_type"]:checked')
    expect(checked).to_have_count(2)
    assert sorted(checked.evaluate_all("boxes => boxes.map(b => b.value)")) == ["call", "meeting"]
    expect(page.locator("#f-include-details")).to_be_checked()
    expect(page.locator("#f-send-invitations")).to_be_checked()

    # Stop, start, switch account (offered, then kept), disconnect.
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#s-state")).to_have_attribute("data-state", "paused")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#s-state")).not_to_have_attribute("data-state", "paused")
    page.get_by_role("button", name="Switch account").click()
    expect(page.locator("#connect-panel")).to_be_visible()
    page.get_by_role("button", name="Keep the current account").click()
    expect(page.locator("#connect-panel")).to_be_hidden()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disconnect").click()
    expect(page.locator("#connect-panel")).to_be_visible()
    expect(page.locator("#status-panel")).to_be_hidden()


def test_an_account_with_two_calendars_syncs_only_once_one_is_chosen(page: Page, live_url: str, people, context, dav: DavServer) -> None:  # type: ignore[no-untyped-def]
    work = dav.make_calendar("ann", "work", display="Work")
    personal = dav.make_calendar("ann", "personal", display="Personal")
    ann = people.add("ann@example.com")
    monday = next_monday()
    add_activity(context, ann, subject="Board meeting", type="meeting",
                 start=f"{monday}T09:00:00+00:00", end=f"{monday}T10:00:00+00:00")
    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/settings/calendar-sync")
    connect_caldav(page, dav)

    # The credentials are accepted; the page asks which calendar, and nothing is written yet.
    expect(page.locator("#s-state")).to_have_attribute("data-state", "choose_calendar")
    choose = page.locator("#choose-panel")
    expect(choose).to_be_visible()
    expect(choose.get_by_role("radio")).to_have_count(2)
    expect(choose.get_by_label("Work")).to_be_enabled()
    expect(choose.get_by_label("Personal")).to_be_enabled()
    expect(page.get_by_role("button", name="Sync with this calendar")).to_be_disabled()
    shoot(page, "settings-choose-calendar", docs=True)
    assert_accessible(page, "the choice of calendar")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_have_text("Sync now: nothing synced — choose the calendar to sync with first.", timeout=60_000)
    for calendar in (work, personal):
        assert "Board meeting" not in dav.get("ann", calendar).text

    choose.get_by_label("Personal").check()
    page.get_by_role("button", name="Sync with this calendar").click()
    expect(choose).to_be_hidden()
    expect(page.locator("#s-calendar")).to_have_text("Personal")
    expect(page.locator("#s-state")).not_to_have_attribute("data-state", "choose_calendar")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=60_000)
    assert "Board meeting" in dav.get("ann", personal).text
    assert "Board meeting" not in dav.get("ann", work).text
    page.reload()
    expect(choose).to_be_hidden()


def test_sync_now_brings_a_radicale_event_into_the_calendar_view(page: Page, live_url: str, people, context, dav: DavServer) -> None:  # type: ignore[no-untyped-def]
    calendar_url = dav.make_calendar("ann", "work", display="Work")
    ann = people.add("ann@example.com")
    monday = next_monday()
    start = dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(10), dt.timezone.utc)
    pushed = add_activity(context, ann, subject="Quarterly review", type="meeting",
                          start=f"{monday}T15:00:00+00:00", end=f"{monday}T16:00:00+00:00")

    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/settings/calendar-sync")
    connect_caldav(page, dav)
    expect(page.locator("#s-calendar")).to_have_text("Work")

    response = dav.put("ann", calendar_url + "dentist.ics", event_ics("dentist-1@test", "Dentist from Radicale", start, start + dt.timedelta(hours=1)))
    assert response.status_code in (201, 204)
    series = event_ics("standup@test", "Team stand-up", start.replace(hour=8), start.replace(hour=8, minute=15),
                       extra="RRULE:FREQ=DAILY;COUNT=3\r\n")
    assert dav.put("ann", calendar_url + "standup.ics", series).status_code in (201, 204)

    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=60_000)
    expect(page.locator("#s-last-success")).not_to_have_text("never")
    expect(page.locator("#run-log tbody tr").first).to_contain_text("ok")

    page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
    imported = page.locator(".fc-event", has_text="Dentist from Radicale")
    expect(imported).to_be_visible()
    expect(imported).to_have_attribute("data-sync-status", "synced")
    occurrences = page.locator('.fc-event[data-read-only="true"]', has_text="Team stand-up")
    expect(occurrences).to_have_count(3)
    mine = page.locator(f'.fc-event[data-activity-id="{pushed}"]')
    expect(mine).to_have_attribute("data-sync-status", "synced")
    shoot(page, "calendar-after-sync")
    # The CRM activity is in Radicale now.
    listing = dav.get("ann", calendar_url)
    assert listing.status_code == 200 and "Quarterly review" in listing.text


def test_mass_deletion_waits_for_confirmation_and_the_trash_restores(page: Page, live_url: str, people, context, dav: DavServer) -> None:  # type: ignore[no-untyped-def]
    calendar_url = dav.make_calendar("ann", "work", display="Work")
    ann = people.add("ann@example.com")
    monday = next_monday()
    for n in range(12):
        add_activity(context, ann, subject=f"Client call {n:02d}", type="call",
                     start=f"{monday + dt.timedelta(days=n % 5)}T{9 + n // 5:02d}:00:00+00:00")
    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/settings/calendar-sync")
    connect_caldav(page, dav)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=60_000)

    # Someone empties the calendar: every event the CRM made is deleted in Radicale.
    listing = httpx_propfind(dav, calendar_url)
    assert len(listing) == 12, (page.locator("#action-result").inner_text(), page.locator("#run-log").inner_text())
    for href in listing:
        assert dav.delete("ann", href).status_code in (200, 204)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#confirm-panel")).to_be_visible(timeout=60_000)
    expect(page.locator("#confirm-text")).to_contain_text("12 activities")
    expect(page.locator("#s-state")).to_have_attribute("data-state", "needs_confirmation")
    shoot(page, "settings-confirm-deletions", docs=True)

    page.get_by_role("button", name="Delete them").click()
    expect(page.locator("#confirm-panel")).to_be_hidden()
    page.get_by_role("button", name="Sync now").click()  # runs after the one the confirmation started
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=60_000)
    page.reload()
    trash = page.locator("#trash tbody tr")
    expect(trash).to_have_count(12)
    page.locator("#trash tr", has_text="Client call 00").get_by_role("button", name="Restore").click()
    expect(page.locator("#trash")).to_contain_text("Restored: Client call 00")
    expect(trash).to_have_count(11)


def httpx_propfind(dav: DavServer, url: str) -> list[str]:
    """The absolute URLs of the objects in a collection (Depth: 1 PROPFIND), as a client lists them."""
    import re as _re

    import httpx

    response = httpx.request("PROPFIND", url, headers={"Depth": "1", "Content-Type": "application/xml"},
                             content='<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>',
                             auth=dav.auth("ann"), timeout=30)
    hrefs = _re.findall(r"<(?:\w+:)?href>([^<]+\.ics)</(?:\w+:)?href>", response.text)
    return [dav.url.rstrip("/") + href if href.startswith("/") else href for href in hrefs]


def test_a_revoked_password_shows_the_fix(page: Page, live_url: str, people, dav: DavServer) -> None:  # type: ignore[no-untyped-def]
    dav.make_calendar("ann", "work", display="Work")
    people.add("ann@example.com")
    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/settings/calendar-sync")
    connect_caldav(page, dav)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=60_000)

    # The app password is revoked on the server (Radicale reads its htpasswd file again).
    (dav.storage.parent / "htpasswd").write_text("ann:a-new-password-2\n")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#s-state")).to_have_attribute("data-state", "auth_error", timeout=60_000)
    expect(page.locator("#auth-banner")).to_contain_text("Reconnect your account")
    expect(page.locator("#s-state")).to_contain_text("reconnect your account")
    expect(page.locator("#s-last-error")).not_to_have_text("none")
    shoot(page, "settings-auth-error", docs=True)

    # Switching to the same account with the new password brings it back.
    page.get_by_role("button", name="Switch account").click()
    connect_caldav(page, dav, password="a-new-password-2")
    expect(page.locator("#auth-banner")).to_be_hidden()
    expect(page.locator("#s-state")).not_to_have_attribute("data-state", "auth_error")
