"""The app under Uvicorn wired to a Microsoft Graph emulator of its own, for the connect and
change-notification tests over HTTP (the emulator POSTs to the app on 127.0.0.1)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from calsync.config import Settings
from calsync.emulators.microsoft import EmulatorConfig
from calsync.providers.microsoft.factory import MicrosoftFactory
from calsync.store.db import session_scope
from calsync.store.tables import SyncAccount
from calsync.sync import registry
from calsync.web.context import AppContext
from tests.conftest import People
from tests.support.live import serve
from tests.support.microsoft_emulator import USERS, MicrosoftEmulator, microsoft_emulator
from tests.support.ports import free_port

PASSWORD = "password-123"


class App:
    def __init__(self, base: str, context: AppContext, emulator: MicrosoftEmulator, settings: Settings) -> None:
        self.base, self.context, self.emulator, self.settings = base, context, emulator, settings

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

    def stored(self, user_id: int) -> dict[str, Any]:
        account = self.account(user_id)
        assert account is not None
        return json.loads(self.context.box.decrypt(account.credentials_encrypted))  # type: ignore[no-any-return]


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
    config = EmulatorConfig(users=list(USERS), redirect_uris=[base + "/oauth/microsoft/callback"])
    with microsoft_emulator(config) as emu:
        settings: Settings = _settings(tmp_path, sqlite_url, public_url=base, microsoft_client_id=config.client_id,
                                       microsoft_client_secret=config.client_secret, microsoft_tenant=config.tenant,
                                       microsoft_graph_url=emu.base, microsoft_login_url=emu.base, **app_settings)
        previous = registry.get("microsoft")
        registry.register(MicrosoftFactory(lambda: settings))
        try:
            web = create_app(settings)
            with serve(web, port=port):
                yield App(base, web.state.context, emu, settings)
        finally:
            registry.register(previous)


@pytest.fixture
def people(app: App) -> People:
    return People(app.context)


def follow_consent(app: App, browser: httpx.Client, user: str = USERS[0], decision: str = "allow") -> httpx.Response:
    """Start → the emulator's consent page → Allow → callback, as the browser would follow it."""
    start = browser.get("/oauth/microsoft/start")
    assert start.status_code == 302, start.text
    assert start.headers["location"].startswith(app.emulator.base + "/common/oauth2/v2.0/authorize")
    location = app.emulator.consent(start.headers["location"], user, decision)
    assert location.startswith(app.base + "/oauth/microsoft/callback")
    return browser.get(location)
