"""Settings › Calendar sync while a long first import runs: the count of items read rises on the
page as the run goes (the calendar is an in-memory one whose pages the test hands out one at a
time, so nothing waits on a clock), and the run log's chart has one group of bars per run of
the last 24 hours. At desktop and phone sizes."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from calsync.providers.memory import MemoryCalendarServer, MemoryProviderFactory
from calsync.store.db import session_scope
from calsync.store.tables import SyncRun, User
from calsync.sync import accounts as sync_accounts
from calsync.sync import registry
from calsync.sync.engine import SyncEngine
from calsync.sync.model import Event
from calsync.web.context import AppContext
from tests.web.conftest import PASSWORD, shoot, sign_in

pytestmark = pytest.mark.browser

UTC = dt.timezone.utc
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    ctx = browser.new_context(viewport=SIZES[request.param], timezone_id="UTC", locale="en-GB")  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    yield request.param, ctx.new_page()
    ctx.close()


@pytest.fixture
def calendar_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryCalendarServer]:
    """An in-memory calendar provider registered for the app and the engine of this test."""
    monkeypatch.setenv("CALSYNC_TEST_PROVIDERS", "1")
    server = MemoryCalendarServer(page_size=100)
    previous = registry._factories.get("memory")
    registry.register(MemoryProviderFactory(server))
    yield server
    registry.unregister("memory")
    if previous is not None:
        registry.register(previous)


def connect(context: AppContext, user_id: int) -> int:
    with session_scope(context.sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        return sync_accounts.connect(session, context.box, user, "memory", {"account": "ann"}).id


class PageGate:
    """Lets the calendar answer its first listing page at once and each later one only when the
    test says so: the run stops between pages where the test wants to look."""

    def __init__(self, server: MemoryCalendarServer) -> None:
        self.pages = 0
        self.allowed = threading.Semaphore(0)
        server.hook = self.hook

    def hook(self, method: str, when: str) -> None:
        if (method, when) == ("list_changes", "before"):
            self.pages += 1
            if self.pages > 1 and not self.allowed.acquire(timeout=60):
                raise TimeoutError("the test never let the next page through")

    def next_page(self) -> None:
        self.allowed.release()


def test_a_first_import_shows_a_rising_count(sized: tuple[str, Page], live_url: str, people, context,  # type: ignore[no-untyped-def]
                                             calendar_server: MemoryCalendarServer) -> None:
    size, page = sized
    ann = people.add("ann@example.com")
    start = (dt.datetime.now(UTC) + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for i in range(350):
        calendar_server.user_put("ann", Event(calendar_id="primary", summary=f"Customer call {i:03d}",
                                              start=start + dt.timedelta(hours=i), end=start + dt.timedelta(hours=i, minutes=30), timezone="UTC"))
    account = connect(context, ann)
    gate = PageGate(calendar_server)
    engine = SyncEngine(context.sessions, lambda a: registry.get("memory").open({"account": "ann"}))
    results: list[object] = []
    run = threading.Thread(target=lambda: results.append(engine.run(account, trigger="connect")), daemon=True)
    run.start()

    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/settings/calendar-sync")
    text = page.locator("#progress-text")
    try:
        expect(text).to_have_text("Reading your calendar: 100 events so far")
        shoot(page, f"settings-first-import-progress-{size}", docs=size == "desktop", full_page=False)
        gate.next_page()
        expect(text).to_have_text("Reading your calendar: 200 events so far")
        gate.next_page()
        expect(text).to_have_text("Reading your calendar: 300 events so far")
    finally:
        for _ in range(5):
            gate.next_page()
        run.join(60)
    assert results and getattr(results[0], "pulled") == 350
    # the run is over: the panel goes, the log and the chart show the run
    expect(page.locator("#progress-panel")).to_be_hidden()
    expect(page.locator("#run-log tbody tr").first).to_contain_text("350")
    expect(page.locator("#run-chart g.run-bars")).to_have_count(1)


def add_run(context: AppContext, account_id: int, started: dt.datetime, pulled: int, pushed: int, errors: int) -> int:
    with session_scope(context.sessions) as session:
        run = SyncRun(account_id=account_id, trigger="schedule", started_at=started, finished_at=started + dt.timedelta(seconds=3),
                      status="provider_error" if errors else "ok", pulled=pulled, pushed=pushed,
                      entries=[{"kind": "error", "item": "sync", "message": "the calendar server failed"}] * errors)
        session.add(run)
        session.flush()
        return run.id


def test_the_run_log_chart_has_a_bar_group_per_run_of_the_last_day(sized: tuple[str, Page], live_url: str, people, context,  # type: ignore[no-untyped-def]
                                                                    calendar_server: MemoryCalendarServer) -> None:
    size, page = sized
    ann = people.add("ann@example.com")
    account = connect(context, ann)
    now = dt.datetime.now(UTC)
    add_run(context, account, now - dt.timedelta(days=3), 500, 0, 0)  # too old
    add_run(context, account, now - dt.timedelta(hours=25), 80, 0, 0)  # too old
    day = [
        add_run(context, account, now - dt.timedelta(hours=23), 120, 4, 0),
        add_run(context, account, now - dt.timedelta(hours=12), 0, 30, 2),
        add_run(context, account, now - dt.timedelta(hours=6), 12, 0, 0),
        add_run(context, account, now - dt.timedelta(minutes=30), 0, 0, 0),
    ]

    sign_in(page, live_url, "ann@example.com")
    page.goto(f"{live_url}/settings/calendar-sync")
    groups = page.locator("#run-chart g.run-bars")
    expect(groups).to_have_count(4)
    assert [int(g.get_attribute("data-run-id") or 0) for g in groups.all()] == day  # oldest first
    chart = page.get_by_role("img", name="4 runs in the last 24 hours: 132 pulled, 34 pushed, 2 errors")
    expect(chart).to_be_visible()

    def height(run_id: int, kind: str) -> float:
        return float(page.locator(f'#run-chart g[data-run-id="{run_id}"] rect.bar-{kind}').get_attribute("height") or 0)

    assert height(day[0], "pulled") > height(day[2], "pulled") > height(day[3], "pulled")  # 120 > 12 > 0 (a hairline)
    assert height(day[1], "errors") > height(day[0], "errors")
    box = page.locator("#run-chart svg").bounding_box()
    assert box is not None and box["width"] <= SIZES[size]["width"]
    page.locator("#log-panel").scroll_into_view_if_needed()
    shoot(page, f"settings-run-chart-{size}", docs=size == "desktop")


def test_progress_and_chart_in_japanese(browser: Browser, live_url: str, people, context,  # type: ignore[no-untyped-def]
                                        calendar_server: MemoryCalendarServer) -> None:
    """A Japanese-language user (the browser's language) reads the progress and the chart in Japanese."""
    ctx = browser.new_context(viewport=SIZES["desktop"], timezone_id="Asia/Tokyo", locale="ja-JP")  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    try:
        ken = people.add("ken@example.com", timezone="Asia/Tokyo")
        start = (dt.datetime.now(UTC) + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        for i in range(150):
            calendar_server.user_put("ann", Event(calendar_id="primary", summary=f"商談 {i:03d}", start=start + dt.timedelta(hours=i),
                                                  end=start + dt.timedelta(hours=i, minutes=30), timezone="UTC"))
        account = connect(context, ken)
        gate = PageGate(calendar_server)
        engine = SyncEngine(context.sessions, lambda a: registry.get("memory").open({"account": "ann"}))
        run = threading.Thread(target=engine.run, args=(account,), kwargs={"trigger": "connect"}, daemon=True)
        run.start()
        page.goto(live_url + "/login")
        page.locator('input[name="email"]').fill("ken@example.com")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('button[type="submit"]').click()
        page.wait_for_url(live_url + "/calendar*")
        page.goto(f"{live_url}/settings/calendar-sync")
        try:
            expect(page.locator("#progress-panel h2")).to_have_text("同期中")
            expect(page.locator("#progress-text")).to_have_text("カレンダーを読み込み中: これまでに 100 件")
        finally:
            gate.next_page()
            run.join(60)
        expect(page.locator("#progress-panel")).to_be_hidden()
        expect(page.get_by_role("img", name="過去 24 時間の実行 1 回: 取り込み 150 件、書き出し 0 件、エラー 0 件")).to_be_visible()
        shoot(page, "settings-run-chart-ja")
    finally:
        ctx.close()
