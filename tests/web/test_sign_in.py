"""Sign in and out with the session cookie, CSRF on state changes, the failed-login limit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PASSWORD, shoot, sign_in

pytestmark = pytest.mark.browser


def test_root_sends_visitors_to_sign_in_and_members_to_the_calendar(page: Page, live_url: str, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com", admin=True)
    page.goto(live_url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(live_url + "/activities")
    expect(page).to_have_url(re.compile(r"/login\?next=/activities"))
    shoot(page, "login", docs=True)

    page.get_by_label("E-mail").fill("ann@example.com")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/activities$"))  # back where the visitor wanted to go
    page.goto(live_url + "/")
    expect(page).to_have_url(re.compile(r"/calendar"))

    page.goto(live_url + "/logout")  # a typed /logout asks, it does not sign out on a GET
    expect(page.get_by_role("heading", name="Sign out?")).to_be_visible()
    page.locator("#confirm-sign-out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(live_url + "/calendar")
    expect(page).to_have_url(re.compile(r"/login"))


def test_state_changes_need_the_csrf_token(page: Page, live_url: str, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com")
    sign_in(page, live_url, "ann@example.com")
    body = {"subject": "Forged", "start": "2030-01-07T10:00:00+00:00"}
    statuses = page.evaluate(
        """async (body) => {
            const send = (headers) => fetch('/api/v1/activities', {method: 'POST', credentials: 'same-origin',
                headers: Object.assign({'Content-Type': 'application/json'}, headers), body: JSON.stringify(body)});
            const token = document.querySelector('meta[name=csrf-token]').content;
            const without = await send({});
            const forged = await send({'X-CSRF-Token': 'not-the-token'});
            const withToken = await send({'X-CSRF-Token': token});
            return [without.status, forged.status, withToken.status, (await without.json()).error];
        }""",
        body,
    )
    assert statuses[:3] == [403, 403, 201], statuses
    assert "CSRF" in statuses[3]
    # A plain form post with the cookie but without the token is refused too.
    response = page.request.post(live_url + "/activities/new", form={"subject": "Forged", "start_date": "2030-01-07"})
    assert response.status == 403


def test_failed_sign_ins_are_limited(page: Page, live_url: str, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com")
    page.goto(live_url + "/login")
    for _ in range(5):  # settings.login_max_failures (default 5)
        page.get_by_label("E-mail").fill("ann@example.com")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("E-mail").fill("ann@example.com")
    page.get_by_label("Password").fill(PASSWORD)  # even the right password waits now
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    expect(page).to_have_url(re.compile(r"/login"))
