"""Problems shown where people look: an account that cannot sync puts a banner with the fix on
every page its owner opens, and its activities' badges say "Sync problem" / "Sync paused" with
the reason (list, calendar, editor, a deal's page), for colleagues too. Alice's grant is revoked;
bob's calendar fails three runs in a row and the type his events come in as is deactivated.
Desktop and phone."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from calsync.providers.memory import DEFAULT_FACTORY, MemoryCalendarServer, MemoryProviderFactory
from calsync.sync import registry
from tests.web.conftest import PASSWORD, shoot, sign_in
from tests.web.helpers import add_item

pytestmark = pytest.mark.browser

SYNC = "/api/v1/calendar-sync"
SIZES = {"desktop": dict(viewport={"width": 1280, "height": 900}),
         "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)}


@pytest.fixture(autouse=True)
def test_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALSYNC_TEST_PROVIDERS", "1")


@pytest.fixture
def server() -> Iterator[MemoryCalendarServer]:
    factory = MemoryProviderFactory()
    registry.register(factory)
    yield factory.server
    registry.register(DEFAULT_FACTORY)


def call(live_url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, live_url + path, headers={"X-Api-Token": token}, timeout=60, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()["data"]


def connect_and_sync(live_url: str, token: str, account: str) -> None:
    call(live_url, token, "POST", f"{SYNC}/connect", json={"provider": "memory", "account": account})
    assert call(live_url, token, "POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "ok"


def pages(ids: dict[str, int], admin: bool) -> list[str]:
    """Every page a signed-in user can open (the run log and the trash are on Settings › Calendar sync)."""
    return ["/calendar", "/activities", "/activities/new", f"/activities/{ids['activity']}", "/deals",
            f"/deals/{ids['deal']}", "/deals/new", "/persons", "/organizations", "/settings/calendar-sync",
            "/settings/profile", "/admin/activity-types", *(["/admin/users"] if admin else [])]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_shows_the_owners_sync_problem_with_the_fix_and_badges_stop_saying_synced(
        browser: Browser, live_url: str, people, context, server: MemoryCalendarServer, size: str) -> None:  # type: ignore[no-untyped-def]
    alice = people.add("alice@example.com", admin=True)
    bob = people.add("bob@example.com")
    a_token, b_token = people.tokens["alice@example.com"], people.tokens["bob@example.com"]
    for account in ("alice-cal", "bob-cal"):
        server.add_calendar(account, "primary", account, primary=True)
    start = dt.datetime.now(dt.timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    deal = add_item(context, alice, "deal", title="Globex renewal")
    body = {"type": "call", "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
    later = {"type": "call", "start": (start + dt.timedelta(hours=3)).isoformat(), "end": (start + dt.timedelta(hours=4)).isoformat()}
    hers = call(live_url, a_token, "POST", "/api/v1/activities", json={**body, "subject": "Call Globex", "deal_id": deal})["id"]
    his = call(live_url, b_token, "POST", "/api/v1/activities", json={**later, "subject": "Visit Initech"})["id"]
    connect_and_sync(live_url, a_token, "alice-cal")
    connect_and_sync(live_url, b_token, "bob-cal")

    # Alice's grant is revoked; bob's server fails three runs in a row; meeting is deactivated.
    server.revoke("alice-cal")
    assert call(live_url, a_token, "POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "auth_error"
    server.fail("5xx", times=1000, method="list_changes")
    for _ in range(3):
        assert call(live_url, b_token, "POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "provider_error"
    meeting = next(t for t in call(live_url, a_token, "GET", "/api/v1/activityTypes") if t["key"] == "meeting")
    call(live_url, a_token, "PATCH", f"/api/v1/activityTypes/{meeting['id']}", json={"active": False})

    width = SIZES[size]["viewport"]["width"]  # type: ignore[index]
    for email, mine, other, kinds in (
        ("alice@example.com", hers, his, ["auth_error", "import_type"]),
        ("bob@example.com", his, hers, ["provider_error", "import_type"]),
    ):
        ctx = browser.new_context(timezone_id="UTC", locale="en-GB", **SIZES[size])  # type: ignore[arg-type]
        ctx.set_default_timeout(15_000)
        try:
            page = ctx.new_page()
            sign_in(page, live_url, email)
            banners = page.locator("#sync-problems [data-problem]")
            for path in pages({"activity": mine, "deal": deal}, admin=email.startswith("alice")):
                page.goto(live_url + path)
                expect(banners).to_have_count(2)
                assert banners.evaluate_all("els => els.map(e => e.dataset.problem)") == kinds, path
                assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{path} is wider than the screen"
            first = banners.first
            if kinds[0] == "auth_error":
                expect(first).to_contain_text("your calendar refused the sign-in")
                expect(first).to_contain_text("revoked")  # the server's words
                fix = first.get_by_role("link", name="reconnect your account")
            else:
                expect(first).to_contain_text("Calendar sync has failed 3 times in a row")
                expect(first).to_contain_text("internal error (503)")
                fix = first.get_by_role("link", name="See the run log")
            expect(banners.nth(1)).to_contain_text("“Meeting” chosen for them is deactivated, so they come in as “Call”")
            expect(banners.nth(1).get_by_role("link", name="Choose another type")).to_have_attribute(
                "href", "/settings/calendar-sync#f-import-type")

            # Badges: neither the owner's activity nor the colleague's says "synced".
            page.goto(live_url + "/activities?owner=everyone")
            for activity_id, reason in ((hers, "the calendar refused the sign-in"), (his, "the last 3 syncs failed")):
                badge = page.locator(f"#activity-{activity_id} [data-sync-status]")
                expect(badge).to_have_attribute("data-sync-status", "problem")
                expect(badge).to_contain_text("Sync problem")
                expect(badge).to_contain_text(reason)  # in the list itself, not only on hover
                assert reason in (badge.get_attribute("title") or "")
            shoot(page, f"sync-problem-list-{email.split('@')[0]}-{size}",
                  docs=(email, size) in (("alice@example.com", "desktop"), ("bob@example.com", "phone")))
            page.goto(f"{live_url}/activities/{other}")
            expect(page.locator("#sync-status [data-sync-status]")).to_have_attribute("data-sync-status", "problem")
            page.goto(f"{live_url}/deals/{deal}")
            expect(page.locator(f"[data-sync-status]").first).to_have_attribute("data-sync-status", "problem")
            page.goto(f"{live_url}/calendar?owner=everyone&view=timeGridWeek&date={start.date()}")
            event = page.locator(f'.fc-event[data-activity-id="{mine}"]')
            expect(event).to_have_attribute("data-sync-status", "problem")
            expect(event).to_have_attribute("title", re.compile("Sync problem: "))  # on hover
            event.click()
            expect(page.locator("#d-sync")).to_contain_text("Sync problem: ")

            # The banner's link leads to where it is fixed.
            page.goto(live_url + "/deals")
            fix.click()
            page.wait_for_url(f"{live_url}/settings/calendar-sync#*")
            target = page.url.split("#")[1]
            expect(page.locator(f"#{target}")).to_be_visible()
        finally:
            ctx.close()

    # Fixed: alice reconnects, bob's server answers again, meeting is active again: no banner, synced.
    server.grant("alice-cal")
    server.clear_faults()
    connect_and_sync(live_url, a_token, "alice-cal")
    assert call(live_url, b_token, "POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "ok"
    call(live_url, a_token, "PATCH", f"/api/v1/activityTypes/{meeting['id']}", json={"active": True})
    ctx = browser.new_context(timezone_id="UTC", locale="en-GB", **SIZES[size])  # type: ignore[arg-type]
    try:
        page = ctx.new_page()
        sign_in(page, live_url, "bob@example.com")
        page.goto(live_url + "/activities?owner=everyone")
        expect(page.locator(f"#activity-{his} [data-sync-status]")).to_have_attribute("data-sync-status", "synced")
        expect(page.locator(f"#activity-{hers} [data-sync-status]")).to_have_attribute("data-sync-status", "synced")
        expect(page.locator("#sync-problems")).to_have_count(0)
    finally:
        ctx.close()


def test_a_japanese_user_reads_the_banner_the_badges_and_the_trash_in_japanese(
        browser: Browser, live_url: str, people, server: MemoryCalendarServer) -> None:  # type: ignore[no-untyped-def]
    people.add("hana@example.com", timezone="Asia/Tokyo")
    token = people.tokens["hana@example.com"]
    server.add_calendar("hana-cal", "primary", "Hana", primary=True)
    start = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    body = {"type": "call", "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
    kept = call(live_url, token, "POST", "/api/v1/activities", json={**body, "subject": "商談"})["id"]
    gone = call(live_url, token, "POST", "/api/v1/activities", json={**body, "subject": "昼食"})["id"]
    connect_and_sync(live_url, token, "hana-cal")
    call(live_url, token, "DELETE", f"/api/v1/activities/{gone}")
    server.revoke("hana-cal")
    assert call(live_url, token, "POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "auth_error"

    ctx = browser.new_context(timezone_id="Asia/Tokyo", locale="ja-JP", **SIZES["desktop"])  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        page.goto(live_url + "/login")
        page.locator('input[name="email"]').fill("hana@example.com")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('button[type="submit"]').click()
        page.wait_for_url(live_url + "/calendar*")
        page.goto(live_url + "/activities")
        banner = page.locator('#sync-problems [data-problem="auth_error"]')
        expect(banner).to_contain_text("カレンダー同期が停止しています")
        expect(banner.get_by_role("link", name="アカウントを接続し直す")).to_have_attribute("href", "/settings/calendar-sync#status-panel")
        expect(page.locator(f"#activity-{kept} [data-sync-status]")).to_contain_text("同期の問題")
        shoot(page, "sync-problem-list-ja", docs=True)
        page.goto(live_url + "/settings/calendar-sync")
        expect(page.get_by_role("button", name="すべてを同期し直す")).to_be_visible()
        expect(page.locator(f'#trash tr[data-activity-id="{gone}"] .trash-reason')).to_have_text("あなたが削除")
        page.get_by_role("checkbox", name="昼食 を選択").check()
        page.get_by_role("button", name="選択したものを復元").click()
        expect(page.locator("#trash")).to_contain_text("1 件のアクティビティを復元しました。")
    finally:
        ctx.close()
