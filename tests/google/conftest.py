"""The Google Calendar emulator for the provider's own tests, one per module; and the app under
Uvicorn wired to an emulator of its own (`app`), for the OAuth and push tests over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import re
from pathlib import Path

import httpx
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


@pytest.fixture(scope="module")
def emu() -> Iterator[GoogleEmulator]:
    with google_emulator() as emulator:
        yield emulator


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
def app_settings() -> dict[str, object]:
    """Extra settings for the app under test (overridden by tests that need the runner)."""
    return {}


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, app_settings: dict[str, object]) -> Iterator[App]:
    from calsync.web.app import create_app
    from tests.conftest import _settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = EmulatorConfig(users=list(USERS), redirect_uris=[base + "/oauth/google/callback"])
    with google_emulator(config) as emu:
        settings: Settings = _settings(tmp_path, sqlite_url, public_url=base, **{
            k: v for k, v in emu.settings(base).model_dump().items() if k.startswith("google_")}, **app_settings)
        previous = registry.get("google")
        registry.register(GoogleFactory(lambda: settings))
        try:
            web = create_app(settings)
            with serve(web, port=port):
                yield App(base, web.state.context, emu)
        finally:
            registry.register(previous)


@pytest.fixture
def people(app: App) -> People:
    return People(app.context)


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


