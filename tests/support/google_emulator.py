"""The Google Calendar emulator served by a real Uvicorn on 127.0.0.1, and a small client for it."""

from __future__ import annotations

import html
import re

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from calsync.emulators.google import EmulatorConfig, create_app
from tests.support.live import serve

USERS = ["a@example.com", "b@example.com"]


class GoogleEmulator:
    """The base URL plus helpers to act as a user and to drive the `/_emulator/` controls."""

    def __init__(self, base: str, config: EmulatorConfig, hooks: list[Callable[[httpx.Response], None]]) -> None:
        self.base, self.config, self._hooks = base, config, hooks
        self.control = httpx.Client(base_url=base + "/_emulator", timeout=30)
        self._clients: list[httpx.Client] = [self.control]

    def token(self, user: str = USERS[0], scopes: list[str] | None = None) -> str:
        body: dict[str, Any] = {"user": user}
        if scopes is not None:
            body["scopes"] = scopes
        reply = self.control.post("/token", json=body)
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    def client(self, user: str = USERS[0], scopes: list[str] | None = None) -> httpx.Client:
        """An API client acting as `user` (as if editing in Google Calendar)."""
        client = httpx.Client(base_url=self.base + "/calendar/v3", timeout=30,
                              headers={"Authorization": f"Bearer {self.token(user, scopes)}"},
                              event_hooks={"response": list(self._hooks)})
        self._clients.append(client)
        return client

    def settings(self, public_url: str = "http://127.0.0.1:8000") -> Any:
        """calsync settings pointing at this emulator (what `calsync emulate google` prints)."""
        from calsync.config import Settings

        return Settings(google_client_id=self.config.client_id, google_client_secret=self.config.client_secret,
                        google_api_url=self.base, google_auth_url=self.base + "/o/oauth2/v2/auth",
                        google_token_url=self.base + "/token", public_url=public_url)

    def consent(self, authorization_url: str, user: str = USERS[0], decision: str = "allow") -> str:
        """Answers the consent page as `user` would (the form's "Allow"); returns the redirect."""
        with httpx.Client(timeout=30) as browser:
            page = browser.get(authorization_url)
            page.raise_for_status()
            form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                                   page.text.split(f'value="{user}"')[0].rsplit("<form", 1)[1]))
            form = {k: html.unescape(v) for k, v in form.items()}
            action = re.findall(r'<form method="post" action="([^"]+)">', page.text)[0]
            reply = browser.post(self.base + action, data={**form, "user": user, "decision": decision})
            assert reply.status_code == 302, reply.text
            return reply.headers["location"]

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

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = self.control.post(path, json=body or {})
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.control.get("/requests", params={"since": since}).json()["requests"])

    def close(self) -> None:
        for client in self._clients:
            client.close()


@contextmanager
def google_emulator(config: EmulatorConfig | None = None,
                    hooks: list[Callable[[httpx.Response], None]] | None = None) -> Iterator[GoogleEmulator]:
    config = config or EmulatorConfig(users=list(USERS))
    with serve(create_app(config)) as base:  # type: ignore[arg-type]
        emulator = GoogleEmulator(base, config, hooks or [])
        try:
            yield emulator
        finally:
            emulator.close()
