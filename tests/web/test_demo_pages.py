"""The pages on the demo company (`calsync demo`, as `make run` serves it): alice's built-in
calendar connected, "Sync now" from the settings page, the views full of real-looking data.
These runs also make the screenshots in docs/ (CALSYNC_DOCS_SCREENSHOTS=1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from rich.console import Console

from calsync.demo import PASSWORD, seed_demo
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.support.live import serve
from tests.support.ports import free_port
from tests.web.conftest import shoot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url, embedded_dav=True, port=port, base_url=f"http://127.0.0.1:{port}")
    context = AppContext.build(settings)
    with session_scope(context.sessions) as session:
        seed_demo(session, context.box, settings, Console(quiet=True))
    context.engine.dispose()
    from calsync.web.app import create_app

    with serve(create_app(settings), port=port) as base:
        yield base


def this_week() -> dt.date:
    today = dt.date.today()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)


def test_demo_company_in_every_view(page: Page, demo_url: str) -> None:
    sign_in(page, demo_url, "alice@example.com", PASSWORD)
    page.goto(demo_url + "/settings/calendar-sync")
    expect(page.locator("#s-calendar")).to_have_text("Alice Admin's calendar")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=90_000)
    expect(page.locator("#run-log tbody tr").first).to_contain_text("ok")
    shoot(page, "demo-settings-calendar-sync", docs=True)

    week = this_week()
    page.goto(f"{demo_url}/calendar?view=timeGridWeek&date={week}&owner=me")
    expect(page.locator('.fc-event[data-sync-status="synced"]').first).to_be_visible()
    page.locator('.fc-event[data-sync-status="synced"]').first.click()
    expect(page.locator("#d-sync")).to_contain_text("Synced")
    shoot(page, "demo-calendar-week", docs=True)
    page.get_by_label("Show activities of").select_option("everyone")
    page.get_by_role("button", name="Month", exact=True).click()
    expect(page.locator(".fc-event").first).to_be_visible()
    page.goto(f"{demo_url}/calendar?view=dayGridMonth&date={week + dt.timedelta(days=10)}&owner=everyone")
    expect(page.get_by_label("Show activities of")).to_have_value("everyone")
    expect(page.locator(".fc-event").first).to_be_visible()
    shoot(page, "demo-calendar-month-everyone", docs=True)

    page.goto(f"{demo_url}/activities?start={week}")
    expect(page.locator("#activities tbody tr[data-activity-id]")).to_have_count(50)
    expect(page.locator('#activities .sync[data-sync-status="synced"]').first).to_be_visible()
    shoot(page, "demo-activities-list", full_page=False, docs=True)
    page.locator("#activities td.subject a").first.click()
    expect(page.locator("#editor")).to_be_visible()
    shoot(page, "demo-activity-editor", docs=True)
    page.goto(demo_url + "/admin/activity-types")
    shoot(page, "demo-admin-activity-types", docs=True)

    # Bob sees alice's private demo activities as Busy blocks.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, demo_url, "bob@example.com", PASSWORD)
    page.goto(f"{demo_url}/calendar?view=timeGridWeek&date={week}&owner=everyone")
    busy = page.locator('.fc-event[data-redacted="true"]').first
    expect(busy).to_be_visible()
    busy.scroll_into_view_if_needed()  # others' activities may fall in Bob's night
    busy.click()
    expect(page.locator("#d-title")).to_have_text("Busy")
    shoot(page, "demo-calendar-busy-blocks", docs=True)
