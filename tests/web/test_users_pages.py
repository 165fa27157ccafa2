"""Your settings (name, time zone, password) and Admin › Users in Chromium, as alice (admin) and bob
(not admin), on a desktop and a phone screen: what each sees, what each may do, and that the
changes hold (sign-in, sessions, times shown in the new zone)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.web.a11y import assert_accessible
from tests.web.conftest import PASSWORD, shoot, sign_in

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
             timezone_id="UTC", locale="en-GB")
DESKTOP = dict(viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-GB")


@pytest.fixture
def company(people) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {"alice": people.add("alice@example.com", admin=True), "bob": people.add("bob@example.com")}


def _context(browser: Browser, size: dict) -> BrowserContext:
    ctx = browser.new_context(**size)
    ctx.set_default_timeout(15_000)
    return ctx


def _fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} is wider than {width}px"


def _signed_in(page: Page, base: str) -> bool:
    page.goto(base + "/settings/profile")
    return page.url.startswith(base + "/settings/profile")


@pytest.mark.parametrize("who, size", [("alice", "desktop"), ("bob", "desktop"), ("bob", "phone")])
def test_your_settings_name_time_zone_and_password(browser: Browser, live_url: str, company, who: str, size: str) -> None:  # type: ignore[no-untyped-def]
    email = f"{who}@example.com"
    here = _context(browser, DESKTOP if size == "desktop" else PHONE)
    elsewhere = _context(browser, PHONE)
    try:
        page, other = here.new_page(), elsewhere.new_page()
        sign_in(page, live_url, email)
        sign_in(other, live_url, email)
        if size == "phone":
            page.locator(".nav-toggle-label").click()
        page.get_by_role("link", name=who.capitalize(), exact=True).click()  # the name in the top bar
        expect(page.get_by_role("heading", name="Your settings")).to_be_visible()
        form = page.locator("#profile-form")
        expect(form.get_by_label("Time zone")).to_have_value("UTC")

        # A zone that is no IANA name is refused with a message; what was typed stays.
        form.get_by_label("Name").fill(f"{who.capitalize()} Tester")
        form.get_by_label("Time zone").fill("Mars/Olympus")
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#profile-error")).to_contain_text("'Mars/Olympus' is not an IANA time zone name such as 'Europe/Berlin'")
        expect(page.locator("#profile-form").get_by_label("Time zone")).to_have_value("Mars/Olympus")
        expect(page.locator("#profile-form").get_by_label("Name")).to_have_value(f"{who.capitalize()} Tester")
        assert_accessible(page, "your settings with a refused time zone")
        if size == "phone":
            _fits(page, 390)
            shoot(page, "phone-user-settings-error")

        form = page.locator("#profile-form")
        form.get_by_label("Time zone").fill("Asia/Tokyo")
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#saved-note")).to_have_text("Saved.")
        expect(page.locator(".topbar .who")).to_have_text(f"{who.capitalize()} Tester")
        page.goto(live_url + "/calendar")
        expect(page.get_by_text("Times in Asia/Tokyo")).to_be_visible()

        # Password: the current one is needed; the change ends the other session, not this one.
        page.goto(live_url + "/settings/profile")
        pw = page.locator("#password-form")
        pw.get_by_label("Current password").fill("not-my-password")
        pw.get_by_label("New password", exact=True).fill("brand-new-456")
        pw.get_by_label("New password again").fill("brand-new-456")
        pw.get_by_role("button", name="Change password").click()
        expect(page.locator("#password-error")).to_contain_text("not your current password")
        assert _signed_in(other, live_url)
        pw = page.locator("#password-form")
        pw.get_by_label("Current password").fill(PASSWORD)
        pw.get_by_label("New password", exact=True).fill("brand-new-456")
        pw.get_by_label("New password again").fill("brand-new-457")
        pw.get_by_role("button", name="Change password").click()
        expect(page.locator("#password-error")).to_contain_text("differ")
        pw = page.locator("#password-form")
        pw.get_by_label("Current password").fill(PASSWORD)
        pw.get_by_label("New password", exact=True).fill("brand-new-456")
        pw.get_by_label("New password again").fill("brand-new-456")
        pw.get_by_role("button", name="Change password").click()
        expect(page.locator("#saved-note")).to_contain_text("your other sessions have ended")
        if size == "phone":
            _fits(page, 390)
        shoot(page, f"{size}-user-settings-{who}", docs=(who, size) in {("alice", "desktop"), ("bob", "phone")})
        page.goto(live_url + "/activities")
        expect(page).to_have_url(live_url + "/activities")  # still signed in here
        other.goto(live_url + "/calendar")
        expect(other).to_have_url(re.compile(r"/login\?next="))  # signed out there
        other.get_by_label("E-mail").fill(email)
        other.get_by_label("Password").fill(PASSWORD)
        other.get_by_role("button", name="Sign in").click()
        expect(other.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
        sign_in(other, live_url, email, "brand-new-456")
    finally:
        here.close()
        elsewhere.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_alice_manages_users(browser: Browser, live_url: str, company, size: str) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP if size == "desktop" else PHONE)
    bobs, newcomer = _context(browser, DESKTOP), _context(browser, PHONE)
    try:
        page = ctx.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        bob = bobs.new_page()
        sign_in(bob, live_url, "bob@example.com")
        sign_in(page, live_url, "alice@example.com")
        if size == "phone":
            page.locator(".nav-toggle-label").click()
        page.get_by_role("link", name="Users", exact=True).click()
        expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
        rows = page.locator("#users tbody tr")
        expect(rows).to_have_count(2)

        # Invite a user: the page shows the link once; it lets the newcomer choose a password.
        add = page.locator("#add-user")
        add.get_by_label("E-mail").fill("carol@example.com")
        add.get_by_label("Name").fill("Carol Closer")
        add.get_by_label("Time zone").fill("Europe/Berlin")
        add.get_by_label("Invite link: they choose their password").check()
        add.get_by_role("button", name="Add user").click()
        expect(page.locator("#flash")).to_contain_text("carol@example.com was added")
        link = page.get_by_label("Set-password link").input_value()
        assert link.startswith(live_url + "/set-password/")
        carol = page.locator('tr[data-email="carol@example.com"]')
        expect(carol.locator(".status")).to_have_text("Invited (no password yet)")
        assert_accessible(page, "the users page showing an invite link")
        if size == "phone":
            _fits(page, 390)
        shoot(page, f"{size}-admin-users-invite", docs=True)

        welcome = newcomer.new_page()
        welcome.goto(link)
        expect(welcome.get_by_text("carol@example.com")).to_be_visible()
        assert_accessible(welcome, "the set-password page")
        welcome.get_by_label("New password", exact=True).fill("carol-pass-123")
        welcome.get_by_label("New password again").fill("carol-pass-123")
        welcome.get_by_role("button", name="Set password and sign in").click()
        expect(welcome).to_have_url(re.compile(re.escape(live_url) + r"/calendar"))
        expect(welcome.get_by_text("Times in Europe/Berlin")).to_be_visible()
        shoot(welcome, "phone-set-password-done")
        welcome.goto(link)
        expect(welcome.locator("#link-gone")).to_contain_text("no longer valid")
        page.reload()
        expect(page.locator('tr[data-email="carol@example.com"] .status')).to_have_text("Active")

        # Add with an initial password; a bad zone or a taken e-mail is refused with the reason.
        add = page.locator("#add-user")
        add.get_by_label("E-mail").fill("dan@example.com")
        add.get_by_label("Time zone").fill("Nowhere/Land")
        add.get_by_label("An initial password you give them").check()
        add.get_by_label("Initial password", exact=True).fill("dan-pass-123")
        add.get_by_role("button", name="Add user").click()
        expect(page.locator("#users-error")).to_contain_text("'Nowhere/Land' is not an IANA time zone name")
        add = page.locator("#add-user")
        expect(add.get_by_label("E-mail")).to_have_value("dan@example.com")
        add.get_by_label("Time zone").fill("UTC")
        add.get_by_label("Initial password", exact=True).fill("dan-pass-123")
        add.get_by_role("button", name="Add user").click()
        expect(page.locator("#flash")).to_contain_text("dan@example.com was added and can sign in")
        add = page.locator("#add-user")
        add.get_by_label("E-mail").fill("BOB@example.com")
        add.get_by_label("Invite link: they choose their password").check()
        add.get_by_role("button", name="Add user").click()
        expect(page.locator("#users-error")).to_contain_text("exists already")

        # Admin rights: never off the last admin; on and off for bob.
        page.get_by_role("button", name="Remove admin: alice@example.com").click()
        expect(page.locator("#users-error")).to_contain_text("last admin")
        assert_accessible(page, "the users page with a refusal")
        page.get_by_role("button", name="Make admin: bob@example.com").click()
        expect(page.locator('tr[data-email="bob@example.com"] .role')).to_have_text("Admin")
        bob.goto(live_url + "/admin/users")
        expect(bob.locator("#users")).to_be_visible()
        page.get_by_role("button", name="Remove admin: bob@example.com").click()
        expect(page.locator('tr[data-email="bob@example.com"] .role')).to_have_text("User")
        bob.reload()
        expect(bob.locator("#forbidden")).to_be_visible()

        # Deactivate bob: his open session ends at once and he cannot sign in; reactivate.
        page.get_by_role("button", name="Deactivate: bob@example.com").click()
        expect(page.locator("#flash")).to_contain_text("bob@example.com is deactivated")
        expect(page.locator('tr[data-email="bob@example.com"] .status')).to_have_text("Deactivated")
        bob.goto(live_url + "/calendar")
        expect(bob).to_have_url(re.compile(r"/login\?next="))
        bob.get_by_label("E-mail").fill("bob@example.com")
        bob.get_by_label("Password").fill(PASSWORD)
        bob.get_by_role("button", name="Sign in").click()
        expect(bob.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
        page.get_by_role("button", name="Reactivate: bob@example.com").click()
        expect(page.locator('tr[data-email="bob@example.com"] .status')).to_have_text("Active")
        sign_in(bob, live_url, "bob@example.com")

        # Reset bob's password with a link: his old password and session end; the link sets a new one.
        bob_row = page.locator('tr[data-email="bob@example.com"]')
        bob_row.locator("summary", has_text="Reset password").click()
        bob_row.get_by_role("button", name="Reset password: bob@example.com").click()
        expect(page.locator("#flash")).to_contain_text("valid 24 hours")
        reset_link = page.get_by_label("Set-password link").input_value()
        expect(page.locator('tr[data-email="bob@example.com"] .status')).to_have_text("Must set a new password")
        if size == "phone":
            _fits(page, 390)
        shoot(page, f"{size}-admin-users-reset")
        bob.goto(live_url + "/calendar")
        expect(bob).to_have_url(re.compile(r"/login\?next="))
        bob.goto(reset_link)
        bob.get_by_label("New password", exact=True).fill("bob-new-pass-1")
        bob.get_by_label("New password again").fill("bob-new-pass-1")
        bob.get_by_role("button", name="Set password and sign in").click()
        expect(bob).to_have_url(re.compile(re.escape(live_url) + r"/calendar"))
    finally:
        ctx.close()
        bobs.close()
        newcomer.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_bob_is_no_admin_and_gets_403_with_a_message(browser: Browser, live_url: str, company, size: str) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP if size == "desktop" else PHONE)
    try:
        page = ctx.new_page()
        sign_in(page, live_url, "bob@example.com")
        if size == "phone":
            page.locator(".nav-toggle-label").click()
        expect(page.get_by_role("link", name="Bob", exact=True)).to_be_visible()  # to Your settings
        expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
        answer = page.goto(live_url + "/admin/users")
        assert answer is not None and answer.status == 403
        expect(page.locator("#forbidden")).to_have_text("Only an admin can manage users: ask an admin of your company.")
        expect(page.locator("#users")).to_have_count(0)
        expect(page.locator("#add-user")).to_have_count(0)
        assert_accessible(page, "the users page refused to a non-admin")
        if size == "phone":
            _fits(page, 390)
        shoot(page, f"{size}-admin-users-bob-403")
        # The page's own session and CSRF token do not make bob an admin either.
        result = page.evaluate("""async () => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/v1/users', {method: 'POST', headers: {'Content-Type': 'application/json',
                'X-CSRF-Token': csrf}, body: JSON.stringify({email: 'mallory@example.com', invite: true})});
            return [r.status, await r.json()];
        }""")
        assert result[0] == 403 and "only an admin can manage users" in result[1]["error"]
        form = page.evaluate("""async () => {
            const body = new URLSearchParams({csrf_token: document.querySelector('meta[name="csrf-token"]').content,
                email: 'mallory@example.com', how: 'invite', timezone: 'UTC'});
            const r = await fetch('/admin/users', {method: 'POST', body});
            return [r.status, await r.text()];
        }""")
        assert form[0] == 403 and "Only an admin can manage users" in form[1]
    finally:
        ctx.close()


def test_a_japanese_user_reads_these_pages_in_japanese(browser: Browser, live_url: str, company, context) -> None:  # type: ignore[no-untyped-def]
    from calsync.store.db import session_scope
    from calsync.store.tables import User

    with session_scope(context.sessions) as s:
        s.get(User, company["alice"]).language = "ja"
        s.get(User, company["bob"]).language = "ja"
    ctx = _context(browser, DESKTOP)
    try:
        page = ctx.new_page()
        sign_in(page, live_url, "bob@example.com")
        page.goto(live_url + "/admin/users")
        expect(page.locator("#forbidden")).to_have_text("ユーザーを管理できるのは管理者だけです。会社の管理者に依頼してください。")
        page.goto(live_url + "/settings/profile")
        expect(page.get_by_role("heading", name="個人設定")).to_be_visible()
        expect(page.get_by_role("button", name="パスワードを変更")).to_be_visible()
        page.get_by_role("button", name="ログアウト").click()
        sign_in(page, live_url, "alice@example.com")
        page.goto(live_url + "/admin/users")
        expect(page.locator('tr[data-email="bob@example.com"] .role')).to_have_text("ユーザー")
        page.get_by_role("button", name="管理者にする: bob@example.com").click()
        expect(page.locator("#flash")).to_have_text("bob@example.com さんを管理者にしました。")
        shoot(page, "desktop-admin-users-ja", docs=True)
    finally:
        ctx.close()
