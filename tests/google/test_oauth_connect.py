"""Connecting Google Calendar over HTTP: the app under Uvicorn, a browser-like client that signs
in, follows `/oauth/google/start` to the emulator's consent page, presses "Allow" and comes back
through `/oauth/google/callback`. The state is bound to the signed-in user and expires; the
tokens are stored encrypted; the account is connected with the calendar still to choose."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from calsync.config import Settings
from calsync.emulators.google import EmulatorConfig
from calsync.providers.google.factory import GoogleFactory
from calsync.store.db import session_scope
from calsync.store.tables import SyncAccount
from calsync.sync import registry
from calsync.web.context import AppContext
from tests.conftest import People
from tests.support.google_emulator import USERS, GoogleEmulator, google_emulator
from tests.support.live import serve
from tests.support.ports import free_port

PASSWORD = "password-123"


class App:
    def __init__(self, base: str, context: AppContext, emulator: GoogleEmulator) -> None:
        self.base, self.context, self.emulator = base, context, emulator

    def browser(self, email: str) -> httpx.Client:
        """A signed-in client that keeps its cookies, as a browser does."""
        client = httpx.Client(base_url=self.base, timeout=30)
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        signed = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/calendar"})
        assert signed.status_code == 303, signed.text
        return client

    def account(self, user_id: int) -> SyncAccount | None:
        with session_scope(self.context.sessions) as s:
            found = s.scalar(select(SyncAccount).where(SyncAccount.user_id == user_id))
            if found is not None:
                s.expunge(found)
            return found


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str) -> Iterator[App]:
    from calsync.web.app import create_app
    from tests.conftest import _settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = EmulatorConfig(users=list(USERS), redirect_uris=[base + "/oauth/google/callback"])
    with google_emulator(config) as emu:
        settings: Settings = _settings(tmp_path, sqlite_url, public_url=base, **{
            k: v for k, v in emu.settings(base).model_dump().items() if k.startswith("google_")})
        previous = registry.get("google")
        registry.register(GoogleFactory(lambda: settings))
        try:
            web = create_app(settings)
            with serve(web, port=port):
                yield App(base, web.state.context, emu)
        finally:
            registry.register(previous)


def follow_consent(app: App, browser: httpx.Client, user: str = USERS[0], decision: str = "allow") -> httpx.Response:
    """Start → consent page → Allow → callback, as the browser would follow it."""
    start = browser.get("/oauth/google/start")
    assert start.status_code == 302 and start.headers["location"].startswith(app.emulator.base + "/o/oauth2/v2/auth")
    location = app.emulator.consent(start.headers["location"], user, decision)
    assert location.startswith(app.base + "/oauth/google/callback")
    return browser.get(location)


@pytest.fixture
def people(app: App) -> People:
    return People(app.context)


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
