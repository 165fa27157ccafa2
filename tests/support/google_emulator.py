"""The Google Calendar emulator served by a real Uvicorn on 127.0.0.1, and a small client for it
(on tests/support/emulator_client.py, shared with the Microsoft one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from calsync.emulators.google import EmulatorConfig, create_app
from tests.support.emulator_client import USERS, EmulatorClient, Hook, served

__all__ = ["USERS", "GoogleEmulator", "google_emulator"]


class GoogleEmulator(EmulatorClient):
    """The base URL plus helpers to act as a user and to drive the `/_emulator/` controls."""

    config: EmulatorConfig

    def client(self, user: str = USERS[0], scopes: list[str] | None = None) -> httpx.Client:
        """An API client acting as `user` (as if editing in Google Calendar)."""
        return self.api_client("/calendar/v3", user, scopes)

    def settings(self, public_url: str = "http://127.0.0.1:8000") -> Any:
        """calsync settings pointing at this emulator (what `calsync emulate google` prints)."""
        from calsync.config import Settings

        return Settings(google_client_id=self.config.client_id, google_client_secret=self.config.client_secret,
                        google_api_url=self.base, google_auth_url=self.base + "/o/oauth2/v2/auth",
                        google_token_url=self.base + "/token", public_url=public_url)

    def add_calendar(self, user: str = USERS[0], summary: str = "Work", access_role: str = "owner") -> str:
        reply = self.control.post("/calendars", json={"user": user, "summary": summary, "access_role": access_role})
        reply.raise_for_status()
        return str(reply.json()["id"])

    def connect(self, user: str = USERS[0]) -> dict[str, Any]:
        """Credentials of a connection made through the real OAuth flow (consent, code, PKCE)."""
        from calsync.providers.google.factory import GoogleFactory

        factory = GoogleFactory(self.settings)
        from calsync.providers.google.auth import new_pkce

        state, verifier = new_pkce()
        location = self.consent(factory.oauth().authorization_url(state, verifier), user)
        query = dict(httpx.URL(location).params)
        assert query["state"] == state
        _, credentials = factory.connect({"code": query["code"], "code_verifier": verifier})
        return credentials

    def open(self, credentials: dict[str, Any]) -> Any:
        from calsync.providers.google.factory import GoogleFactory

        return GoogleFactory(self.settings).open(credentials)


@contextmanager
def google_emulator(config: EmulatorConfig | None = None, hooks: list[Hook] | None = None) -> Iterator[GoogleEmulator]:
    config = config or EmulatorConfig(users=list(USERS))
    with served(GoogleEmulator, create_app(config), config, hooks) as emulator:
        yield emulator
