"""axe-core on every page, at desktop and phone sizes, with the demo company's data: no serious or
critical accessibility violation anywhere (sign-in, calendar with its details panel, list,
editor, deals / people / organizations pages and forms, settings with run log and trash, both
connected and not, your settings, activity types and users). The helper is tests/web/a11y.py; other page tests call it too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from rich.console import Console
from sqlalchemy import select

from calsync.demo import PASSWORD, seed_demo
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.store.tables import Activity, Deal, Organization, Person, User
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.support.live import serve
from tests.support.ports import free_port
from tests.web.a11y import assert_accessible
from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@dataclass
class Demo:
    base: str
    ids: dict[str, int]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url, embedded_dav=True, port=port, base_url=f"http://127.0.0.1:{port}")
    context = AppContext.build(settings)
    with session_scope(context.sessions) as session:
        seed_demo(session, context.box, settings, Console(quiet=True))
        alice = session.scalar(select(User).where(User.email == "alice@example.com"))
        assert alice is not None
        ids = {
            "deal": session.scalar(select(Deal.id).where(Deal.owner_id == alice.id).order_by(Deal.id)),
            "person": session.scalar(select(Person.id).where(Person.owner_id == alice.id).order_by(Person.id)),
            "org": session.scalar(select(Organization.id).where(Organization.owner_id == alice.id).order_by(Organization.id)),
            "activity": session.scalar(select(Activity.id).where(Activity.owner_id == alice.id).order_by(Activity.id)),
        }
    context.engine.dispose()
    from calsync.web.app import create_app

    with serve(create_app(settings), port=port) as base:
        yield Demo(base, {k: int(v) for k, v in ids.items() if v is not None})


@pytest.fixture(params=list(SIZES))
def sized_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    context = browser.new_context(viewport=SIZES[request.param], timezone_id="UTC", locale="en-GB",
                                  is_mobile=request.param == "phone", has_touch=request.param == "phone")
    context.set_default_timeout(15_000)
    yield request.param, context.new_page()
    context.close()


def next_week() -> dt.date:
    today = dt.date.today()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)


def test_no_serious_accessibility_violation_on_any_page(sized_page: tuple[str, Page], demo: Demo) -> None:
    size, page = sized_page
    base, ids = demo.base, demo.ids

    def check(path: str, where: str) -> None:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        assert_accessible(page, f"{where} ({size})")

    check("/login", "sign-in")
    page.get_by_label("E-mail").fill("alice@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert_accessible(page, f"sign-in with an error ({size})")
    sign_in(page, base, "alice@example.com", PASSWORD)

    week = next_week()
    check(f"/calendar?view=timeGridWeek&date={week}", "calendar, week")
    page.locator(".fc-event").first.click()
    expect(page.locator("#d-title")).to_be_visible()
    assert_accessible(page, f"calendar with the details panel open ({size})")
    check(f"/calendar?view=dayGridMonth&date={week}&owner=everyone", "calendar, month, everyone")
    check(f"/activities?start={week}", "activity list")
    check(f"/activities?owner=everyone&start={week}", "activity list, everyone")
    check("/activities/new", "new activity")
    check(f"/activities/{ids['activity']}", "activity editor")
    for kind, path in (("deal", "deals"), ("person", "persons"), ("org", "organizations")):
        check(f"/{path}", f"{path} list")
        check(f"/{path}?q=a", f"{path} list, searched")
        check(f"/{path}/{ids[kind]}", f"{kind} detail")
        check(f"/{path}/new", f"new {kind} form")
        check(f"/{path}/{ids[kind]}/edit", f"{kind} edit form")
    check("/admin/activity-types", "activity types (admin)")
    check("/admin/users", "users (admin)")
    check("/settings/profile", "your settings")

    # Settings with a run in the log and an item in the trash.
    page.goto(base + "/settings/calendar-sync")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=90_000)
    page.goto(f"{base}/activities/{ids['activity']}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(lambda url: f"/activities/{ids['activity']}" not in url)
    check("/settings/calendar-sync", "calendar sync settings with run log and trash")
    expect(page.locator("#run-log tbody tr").first).to_contain_text("ok")
    expect(page.locator("#trash tbody tr")).not_to_have_count(0)
    assert_accessible(page, f"calendar sync settings, log loaded ({size})")
    check("/deals/999999", "page not found")

    # Bob: not connected, the connect panel with every way to connect.
    check("/logout", "sign-out question")
    page.locator("main").get_by_role("button", name="Sign out").click()
    sign_in(page, base, "bob@example.com", PASSWORD)
    check("/settings/calendar-sync", "calendar sync settings, not connected")
    expect(page.locator("#connect-panel")).to_be_visible()
    check(f"/calendar?view=timeGridWeek&date={week}&owner=everyone", "calendar with others' busy blocks")


def test_the_japanese_pages_have_no_serious_accessibility_violation(browser: Browser, demo: Demo) -> None:
    """The same pages in Japanese (the browser's language): the page says lang="ja", and the
    translated labels still name every control."""
    context = browser.new_context(viewport=SIZES["desktop"], timezone_id="Asia/Tokyo", locale="ja-JP",
                                  extra_http_headers={"Accept-Language": "ja-JP,ja;q=0.9"})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        base, ids = demo.base, demo.ids
        page.goto(base + "/login")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        assert_accessible(page, "sign-in (ja)")
        page.locator('input[name="email"]').fill("bob@example.com")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('button[type="submit"]').click()
        page.wait_for_url(base + "/calendar*")
        for path in (f"/calendar?view=timeGridWeek&date={next_week()}&owner=everyone", "/activities?owner=everyone",
                     "/activities/new", "/deals", f"/deals/{ids['deal']}", "/settings/calendar-sync", "/settings/profile"):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            expect(page.locator("html")).to_have_attribute("lang", "ja")
            assert_accessible(page, f"{path} (ja)")
    finally:
        context.close()
