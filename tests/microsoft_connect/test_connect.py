"""Connecting Microsoft 365 over HTTP: the app under Uvicorn, a browser-like client that signs
in, follows `/oauth/microsoft/start` to the emulator's consent page, presses "Allow" and comes
back through `/oauth/microsoft/callback`. The state is bound to the signed-in user and the
provider; the tokens are stored encrypted; the account waits in `choose_calendar`."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from calsync.sync.provider import AuthError
from tests.conftest import People
from tests.microsoft_connect.conftest import App, follow_consent
from tests.support.microsoft_emulator import USERS


def test_allow_connects_the_account_with_encrypted_tokens_and_pkce(app: App, people: People) -> None:
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    page = browser.get("/settings/calendar-sync")
    assert 'href="/oauth/microsoft/start"' in page.text and "Connect Microsoft 365" in page.text
    assert "attendees are not written as attendees to Microsoft 365 calendars" in page.text
    start = browser.get("/oauth/microsoft/start")
    asked = parse_qs(urlsplit(start.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["state"][0]
    assert set(asked["scope"][0].split()) == {"https://graph.microsoft.com/Calendars.ReadWrite", "offline_access"}
    back = follow_consent(app, browser)
    assert back.status_code == 303 and back.headers["location"] == "/settings/calendar-sync?connected=microsoft"
    account = app.account(uid)
    assert account is not None and account.provider == "microsoft" and account.account_name == USERS[0]
    assert "refresh_token" not in account.credentials_encrypted
    stored = app.stored(uid)
    assert stored["refresh_token"] and stored["access_token"]
    calendars = browser.get("/api/v1/calendar-sync/calendars").json()["data"]
    assert [(c["name"], c["writable"], c["primary"]) for c in calendars] == [("Calendar", True, True)]

    # connected, but no calendar chosen yet: nothing syncs until the user picks one
    assert account.calendar_id is None and account.state == "choose_calendar"
    with httpx.Client(base_url=app.base, timeout=30, headers=people.headers("ann@example.com")) as api:
        assert api.get("/api/v1/calendar-sync").json()["data"]["state"] == "choose_calendar"
        chosen = api.patch("/api/v1/calendar-sync", json={"calendar_id": calendars[0]["id"]})
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["data"]["state"] == "active" and chosen.json()["data"]["calendar_id"] == calendars[0]["id"]
        unknown = api.patch("/api/v1/calendar-sync", json={"calendar_id": "no-such-calendar"})
        assert unknown.status_code in (404, 409, 422) and "no-such-calendar" in unknown.text


def test_a_callback_for_another_user_a_wrong_state_or_provider_is_refused(app: App, people: People) -> None:
    people.add("ann@example.com")
    bob = people.add("bob@example.com")
    ann = app.browser("ann@example.com")
    start = ann.get("/oauth/microsoft/start")
    location = app.emulator.consent(start.headers["location"])
    other = app.browser("bob@example.com")
    refused = other.get(location)
    assert refused.status_code == 400 and "was not started from this browser session" in refused.text
    assert app.account(bob) is None
    forged = ann.get(re.sub(r"state=[^&]+", "state=forged", location))
    assert forged.status_code == 400 and "does not match this sign-in" in forged.text
    # a Microsoft sign-in answered on Google's callback is not taken for Google's
    answer = app.emulator.consent(ann.get("/oauth/microsoft/start").headers["location"])
    crossed = ann.get(answer.replace("/oauth/microsoft/callback", "/oauth/google/callback"))
    assert crossed.status_code == 400 and "started for another calendar provider" in crossed.text
    assert ann.get("/oauth/nosuch/start").status_code == 404


def test_deny_is_a_page_that_says_so(app: App, people: People) -> None:
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    denied = follow_consent(app, browser, decision="deny")
    assert denied.status_code == 400 and "you did not allow access" in denied.text
    assert app.account(uid) is None


def test_refresh_rotates_and_the_new_refresh_token_is_stored(app: App, people: People) -> None:
    """Every refresh hands out a new refresh token; the emulator retires the old one, so only a
    client that stores the newest keeps working."""
    from calsync.sync import registry
    from calsync.sync.credentials import open_account

    app.emulator.config.retire_old_refresh_tokens = True
    uid = people.add("ann@example.com")
    follow_consent(app, app.browser("ann@example.com"))
    first = app.stored(uid)["refresh_token"]
    for _ in range(2):
        account = app.account(uid)
        assert account is not None
        provider = open_account(app.context.box, app.context.sessions, account)
        provider.http.tokens.credentials["expires_at"] = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc).isoformat()
        try:
            assert provider.list_calendars()
        finally:
            provider.close()
    assert app.stored(uid)["refresh_token"] != first
    assert registry.get("microsoft").name == "microsoft"


def test_a_revoked_grant_is_an_auth_error_with_a_reconnect_prompt(app: App, people: People) -> None:
    from calsync.sync.credentials import open_account

    uid = people.add("ann@example.com")
    follow_consent(app, app.browser("ann@example.com"))
    app.emulator.post("/revoke", {"user": USERS[0]})
    account = app.account(uid)
    assert account is not None
    provider = open_account(app.context.box, app.context.sessions, account)
    provider.http.tokens.credentials["expires_at"] = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc).isoformat()
    with pytest.raises(AuthError, match="reconnect Microsoft 365 in Settings › Calendar sync"):
        provider.list_calendars()
    provider.close()


def test_the_connect_api_says_microsoft_connects_through_its_sign_in_page(app: App, people: People) -> None:
    people.add("ann@example.com")
    with httpx.Client(base_url=app.base, timeout=30) as api:
        refused = api.post("/api/v1/calendar-sync/connect", json={"provider": "microsoft"},
                           headers=people.headers("ann@example.com"))
    assert refused.status_code == 422, refused.text
    assert "Connect Microsoft 365" in refused.json()["error"]
