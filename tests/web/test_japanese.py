"""The pages in Japanese, as a Japanese-language user sees them: chosen by the browser's
Accept-Language when the user made no choice, or by the user's own choice (Settings ›
Language) whatever the browser says. Every page, at desktop and phone sizes: the page says
lang="ja", shows its Japanese words (also the ones the scripts write), prints dates the
Japanese way, and no English UI word is left on it. The REST API stays English."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from calsync.store.db import session_scope
from calsync.store.tables import User
from tests.web.conftest import PASSWORD, shoot
from tests.web.helpers import add_activity, add_item, next_monday

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# UI words of the English pages; none may be left on a Japanese page (user data here is Japanese).
ENGLISH_UI = re.compile(
    r"\b(Calendar|Activities|Activity|Deals?|People|Person|Organizations?|Save|Cancel|Owner|Subject|Status|Sign (in|out)|"
    r"Settings|Search|Everyone|Delete|Edit|Done|Trash|Loading|Connect|Language|Today|Week|Month|Synced|Pending|"
    r"Not synced|Restore|Private|Busy|Type|Types|Value|Address|Phone|Due|Sync|Refresh|Never|None|Back|Open|Name|"
    r"Title|Key|Colour|Icon|Active|Previous|Next|Who sees it|Only the owner|Mark|Show|Times in|New)\b")
JAPANESE_DAY = re.compile(r"\d{1,2}月\d{1,2}日\([月火水木金土日]\)")


def _context(browser: Browser, size: str, locale: str) -> BrowserContext:
    """A browser whose language is `locale` (Chromium sends it as Accept-Language)."""
    ctx = browser.new_context(viewport=SIZES[size], timezone_id="Asia/Tokyo", locale=locale,  # type: ignore[arg-type]
                              is_mobile=size == "phone", has_touch=size == "phone")
    ctx.set_default_timeout(15_000)
    return ctx


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def japanese_browser(browser: Browser, size: str) -> Iterator[Page]:
    ctx = _context(browser, size, "ja-JP")
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def english_browser(browser: Browser, size: str) -> Iterator[Page]:
    ctx = _context(browser, size, "en-GB")
    yield ctx.new_page()
    ctx.close()


def _set_language(context, user_id: int, language: str | None) -> None:  # type: ignore[no-untyped-def]
    with session_scope(context.sessions) as session:
        row = session.get(User, user_id)
        assert row is not None
        row.language = language
        row.name = "山田 健二"


def _sign_in(page: Page, base: str, email: str, *, button: str) -> None:
    page.goto(base + "/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(base + "/calendar*")


def _japanese_page(page: Page, words: list[str]) -> None:
    """The page speaks Japanese: lang, its own words, the nav, and no English UI word visible."""
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    for word in words:
        expect(page.locator("main")).to_contain_text(word)
    expect(page.locator('nav.nav a[href="/calendar"]')).to_have_text("カレンダー")
    expect(page.locator("nav.nav button.link")).to_have_text("ログアウト")
    try:  # what the scripts write comes a moment later: wait until no English word is on screen
        page.wait_for_function("re => !new RegExp(re).test(document.body.innerText)", arg=ENGLISH_UI.pattern, timeout=5_000)
    except PlaywrightTimeout:
        pass
    left = sorted({m.group(0) for m in ENGLISH_UI.finditer(page.locator("body").inner_text())})
    assert left == [], f"English left on {page.url}: {left}"
    # Japanese lines have no spaces to break at: nothing may push the page wider than the screen
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]}px wide on a {width[1]}px screen"


def _data(context, people):  # type: ignore[no-untyped-def]
    """A Japanese rep with a deal, a person, an organization and activities next week."""
    kenji = people.add("kenji@example.jp", admin=True, timezone="Asia/Tokyo")
    org = add_item(context, kenji, "org", name="山田商事", address="東京都千代田区")
    person = add_item(context, kenji, "person", name="佐藤 花子", org_id=org, emails=["hanako@example.jp"])
    deal = add_item(context, kenji, "deal", title="新オフィスの導入", value=1200000, currency="JPY", person_id=person, org_id=org)
    monday = next_monday()
    meeting = add_activity(context, kenji, subject="見積もりの打ち合わせ", type="meeting", deal_id=deal, person_id=person,
                           org_id=org, start=f"{monday}T01:00:00+00:00", end=f"{monday}T02:00:00+00:00")
    add_activity(context, kenji, subject="展示会", type="meeting", start=str(monday), end=str(monday + dt.timedelta(days=1)), all_day=True)
    return kenji, {"org": org, "person": person, "deal": deal, "meeting": meeting, "monday": str(monday)}


def _every_page(page: Page, base: str, ids: dict, size: str) -> None:  # type: ignore[type-arg]
    """Visits every page and checks each speaks Japanese; screenshots go to docs/screenshots."""
    pages = [
        ("calendar", f"/calendar?date={ids['monday']}", ["表示するアクティビティ", "時刻は Asia/Tokyo", "今日", "見積もりの打ち合わせ"]),
        ("activities", "/activities", ["アクティビティ", "見積もりの打ち合わせ", "担当者", "終日"]),
        ("editor-new", "/activities/new", ["新しいアクティビティ", "件名", "公開範囲"]),
        ("editor", f"/activities/{ids['meeting']}", ["見積もりの打ち合わせ", "件名", "変更を保存"]),
        ("deals", "/deals", ["取引", "新オフィスの導入", "進行中"]),
        ("deal", f"/deals/{ids['deal']}", ["金額", "1,200,000 JPY", "見積もりの打ち合わせ"]),
        ("deal-form", "/deals/new", ["新しい取引", "通貨"]),
        ("persons", "/persons", ["人物", "佐藤 花子"]),
        ("person", f"/persons/{ids['person']}", ["電話", "hanako@example.jp"]),
        ("person-form", "/persons/new", ["新しい人物", "複数の場合はカンマで区切ります"]),
        ("organizations", "/organizations", ["組織", "山田商事"]),
        ("organization", f"/organizations/{ids['org']}", ["住所", "東京都千代田区"]),
        ("organization-form", "/organizations/new", ["新しい組織"]),
        ("settings", "/settings/calendar-sync", ["カレンダー同期", "カレンダーを接続", "ゴミ箱"]),
        ("user-settings", "/settings/profile", ["プロフィール", "言語", "パスワードを変更"]),
        ("users", "/admin/users", ["ユーザーを追加", "管理者", "山田 健二"]),
        ("activity-types", "/admin/activity-types", ["アクティビティタイプ", "カスタムタイプを追加"]),
        ("not-found", "/activities/999999", ["見つかりません"]),
        ("sign-out", "/logout", ["ログアウトしますか?"]),
    ]
    for name, path, words in pages:
        page.goto(base + path)
        _japanese_page(page, words)
        if name == "activities":
            expect(page.locator("tbody.day-group tr.day-heading").first).to_have_text(JAPANESE_DAY)
        if name == "calendar":
            expect(page.get_by_role("button", name="今日")).to_be_visible()
        if name in ("calendar", "activities", "editor", "deal", "settings", "user-settings"):
            shoot(page, f"ja-{size}-{name}", docs=True)


def test_a_japanese_browser_gets_every_page_in_japanese(japanese_browser: Page, live_url: str, people, context, size: str) -> None:  # type: ignore[no-untyped-def]
    """No choice made: the browser's Accept-Language (ja-JP) decides, from the sign-in page on."""
    kenji, ids = _data(context, people)
    _set_language(context, kenji, None)
    page = japanese_browser

    page.goto(live_url + "/login")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("button", name="ログイン")).to_be_visible()
    expect(page.get_by_label("メールアドレス")).to_be_visible()
    assert ENGLISH_UI.search(page.locator("body").inner_text()) is None
    shoot(page, f"ja-{size}-login", docs=True)
    page.get_by_label("メールアドレス").fill("kenji@example.jp")
    page.get_by_label("パスワード").fill("wrong-password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("alert")).to_have_text("メールアドレスまたはパスワードが違います。")

    _sign_in(page, live_url, "kenji@example.jp", button="ログイン")
    _every_page(page, live_url, ids, size)


def test_the_users_own_choice_wins_over_the_browser(english_browser: Page, browser: Browser, live_url: str, people, context, size: str) -> None:  # type: ignore[no-untyped-def]
    """An English browser: the user picks 日本語 on Your settings and every page, on every
    device, is Japanese; picking "the browser's language" again brings English back."""
    kenji, ids = _data(context, people)
    _set_language(context, kenji, None)
    page = english_browser
    _sign_in(page, live_url, "kenji@example.jp", button="Sign in")
    page.goto(live_url + "/settings/profile")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Your settings", exact=True)).to_be_visible()

    page.get_by_label("Language").select_option("ja")
    page.get_by_role("button", name="Save language").click()
    expect(page).to_have_url(live_url + "/settings/profile")
    expect(page.get_by_role("heading", name="個人設定", exact=True)).to_be_visible()
    expect(page.locator("#f-language")).to_have_value("ja")
    _every_page(page, live_url, ids, size)

    other = _context(browser, size, "en-US")  # another device, an English browser: the choice follows the user
    try:
        second = other.new_page()
        _sign_in(second, live_url, "kenji@example.jp", button="Sign in")
        _japanese_page(second, ["表示するアクティビティ"])
    finally:
        other.close()

    page.goto(live_url + "/settings/profile")
    page.get_by_label("言語").select_option("browser")
    page.get_by_role("button", name="言語を保存").click()
    expect(page.get_by_role("heading", name="Your settings", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_an_english_choice_wins_over_a_japanese_browser(japanese_browser: Page, live_url: str, people, context, size: str) -> None:  # type: ignore[no-untyped-def]
    kenji, _ = _data(context, people)
    _set_language(context, kenji, "en")
    page = japanese_browser
    page.goto(live_url + "/login")
    expect(page.get_by_role("button", name="ログイン")).to_be_visible()  # signed out: the browser's language
    _sign_in(page, live_url, "kenji@example.jp", button="ログイン")
    page.goto(live_url + "/activities")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Activities")).to_be_visible()


def test_the_api_stays_english_with_stable_codes(live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    """A Japanese user and browser: the API's messages are English and carry their error_info code."""
    kenji, _ = _data(context, people)
    _set_language(context, kenji, "ja")
    headers = {**people.headers("kenji@example.jp"), "Accept-Language": "ja-JP,ja;q=0.9"}
    with httpx.Client(base_url=live_url, timeout=30) as client:
        missing = client.get("/api/v1/activities/999999", headers=headers)
        invalid = client.post("/api/v1/activities", headers=headers, json={"subject": "", "type": "meeting"})
    assert missing.status_code == 404
    assert missing.json()["error_info"] == "not_found"
    assert invalid.status_code == 422
    for answer in (missing, invalid):
        assert answer.json()["success"] is False
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", answer.text) is None, answer.text
        assert "Content-Language" not in answer.headers


def test_sync_reasons_are_japanese_in_the_list_and_the_calendar_panel(japanese_browser: Page, live_url: str, people, context, size: str) -> None:  # type: ignore[no-untyped-def]
    """The CRM gives its reasons in English (so does the API); the pages show the known ones in
    the viewer's language, server-side (list) and in the calendar's script (details panel)."""
    from tests.web.test_activities import _connect_fake_account

    kenji, ids = _data(context, people)
    _set_language(context, kenji, "ja")
    _connect_fake_account(context, kenji, push_types=["meeting"])
    monday = next_monday()
    call = add_activity(context, kenji, subject="電話で確認", type="call", start=f"{monday}T03:00:00+00:00", end=f"{monday}T03:30:00+00:00")
    page = japanese_browser
    _sign_in(page, live_url, "kenji@example.jp", button="ログイン")
    page.goto(f"{live_url}/activities")
    row = page.locator(f'tr[data-activity-id="{call}"]')
    expect(row).to_contain_text("未同期")
    expect(row).to_contain_text("タイプ「call」のアクティビティはカレンダーに送られません")
    page.goto(f"{live_url}/calendar?date={monday}&view=timeGridDay")
    page.locator(f'.fc-event[data-activity-id="{call}"]').click()
    expect(page.locator("#d-sync")).to_contain_text("未同期 (タイプ「call」のアクティビティはカレンダーに送られません)")
