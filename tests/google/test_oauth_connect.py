"""Connecting Google Calendar over HTTP: the app under Uvicorn, a browser-like client that signs
in, follows `/oauth/google/start` to the emulator's consent page, presses "Allow" and comes back
through `/oauth/google/callback`. The state is bound to the signed-in user and expires; the
tokens are stored encrypted; the account is connected with the calendar still to choose."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.conftest import People
from tests.google.conftest import App, follow_consent
from tests.support.google_emulator import USERS


def test_allow_connects_the_account_with_encrypted_tokens_and_pkce(app: App, people: People) -> None:
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    page = browser.get("/settings/calendar-sync")
    assert 'href="/oauth/google/start"' in page.text and "Connect Google Calendar" in page.text
    back = follow_consent(app, browser)
    assert back.status_code == 303 and back.headers["location"].startswith("/settings/calendar-sync")
    account = app.account(uid)
    assert account is not None and account.provider == "google" and account.account_name == USERS[0]
    assert "refresh_token" not in account.credentials_encrypted
    stored = json.loads(app.context.box.decrypt(account.credentials_encrypted))
    assert stored["refresh_token"] and stored["access_token"]
    grants = app.emulator.control.get("/grants").json()["grants"]
    assert grants[-1]["pkce"] and grants[-1]["offline"]
    calendars = browser.get("/api/v1/calendar-sync/calendars").json()["data"]
    assert [(c["id"], c["writable"], c["primary"]) for c in calendars] == [(USERS[0], True, True)]

    # connected, but no calendar chosen yet: nothing syncs until the user picks one
    assert account.calendar_id is None and account.state == "choose_calendar"
    with httpx.Client(base_url=app.base, timeout=30, headers=people.headers("ann@example.com")) as api:
        assert api.get("/api/v1/calendar-sync").json()["data"]["state"] == "choose_calendar"
        assert api.post("/api/v1/calendar-sync/sync?wait=true").json()["data"]["status"] == "paused"
        chosen = api.patch("/api/v1/calendar-sync", json={"calendar_id": USERS[0]})
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["data"]["state"] == "active" and chosen.json()["data"]["calendar_id"] == USERS[0]
        assert api.post("/api/v1/calendar-sync/sync?wait=true").json()["data"]["status"] == "ok"


def test_a_callback_for_another_user_or_a_wrong_state_is_refused(app: App, people: People) -> None:
    people.add("ann@example.com")
    bob = people.add("bob@example.com")
    ann = app.browser("ann@example.com")
    start = ann.get("/oauth/google/start")
    location = app.emulator.consent(start.headers["location"])
    other = app.browser("bob@example.com")
    refused = other.get(location)
    assert refused.status_code == 400 and "was not started from this browser session" in refused.text
    assert app.account(bob) is None
    forged = ann.get(re.sub(r"state=[^&]+", "state=forged", location))
    assert forged.status_code == 400 and "does not match this sign-in" in forged.text


def test_deny_and_unsigned_visitors(app: App, people: People) -> None:
    uid = people.add("ann@example.com")
    anonymous = httpx.Client(base_url=app.base, timeout=30)
    assert anonymous.get("/oauth/google/start").status_code in (302, 303)
    browser = app.browser("ann@example.com")
    denied = follow_consent(app, browser, decision="deny")
    assert denied.status_code == 400 and "you did not allow access" in denied.text
    assert app.account(uid) is None


def test_a_late_callback_is_refused(app: App, people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    from calsync.web import oauth

    people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    start = browser.get("/oauth/google/start")
    location = app.emulator.consent(start.headers["location"])
    monkeypatch.setattr(oauth, "now", lambda: time.time() + oauth.STATE_SECONDS + 1)
    late = browser.get(location)
    assert late.status_code == 400 and "longer than 10 minutes" in late.text


def test_the_connect_api_says_google_connects_through_its_consent_page(app: App, people: People) -> None:
    people.add("ann@example.com")
    with httpx.Client(base_url=app.base, timeout=30) as api:
        refused = api.post("/api/v1/calendar-sync/connect", json={"provider": "google"},
                           headers=people.headers("ann@example.com"))
    assert refused.status_code == 422, refused.text
    assert "Connect Google Calendar" in refused.json()["error"]


def test_the_settings_page_says_when_google_cannot_push_here(app: App, people: People,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from calsync.providers.google.factory import GoogleFactory
    from calsync.sync import registry

    people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    assert "arrive with the next scheduled sync" not in browser.get("/settings/calendar-sync").text  # emulator here
    real = app.emulator.settings(app.base).model_copy(update={"google_api_url": "https://www.googleapis.com"})
    monkeypatch.setattr(registry.get("google"), "settings", lambda: real)
    assert isinstance(registry.get("google"), GoogleFactory)
    assert "arrive with the next scheduled sync" in browser.get("/settings/calendar-sync").text
