"""The Microsoft Graph emulator served by a real Uvicorn on 127.0.0.1, and a small client for it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from calsync.emulators.microsoft import EmulatorConfig, create_app
from tests.support.live import serve

USERS = ["a@example.com", "b@example.com"]


class MicrosoftEmulator:
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

    def client(self, user: str = USERS[0], scopes: list[str] | None = None,
               headers: dict[str, str] | None = None) -> httpx.Client:
        """A Graph client acting as `user` (base URL .../v1.0), as if editing in Outlook."""
        client = httpx.Client(base_url=self.base + "/v1.0", timeout=30,
                              headers={"Authorization": f"Bearer {self.token(user, scopes)}", **(headers or {})},
                              event_hooks={"response": list(self._hooks)})
        self._clients.append(client)
        return client

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

    def add_calendar(self, user: str = USERS[0], name: str = "Work") -> str:
        return str(self.post("/calendars", {"user": user, "name": name})["id"])

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = self.control.post(path, json=body or {})
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.control.get("/requests", params={"since": since}).json()["requests"])

    def settle(self) -> None:
        assert self.control.post("/notifications/settle").json() == {"idle": True}

    def close(self) -> None:
        for client in self._clients:
            client.close()


@contextmanager
def microsoft_emulator(config: EmulatorConfig | None = None,
                       hooks: list[Callable[[httpx.Response], None]] | None = None) -> Iterator[MicrosoftEmulator]:
    config = config or EmulatorConfig(users=list(USERS))
    with serve(create_app(config)) as base:  # type: ignore[arg-type]
        emulator = MicrosoftEmulator(base, config, hooks or [])
        try:
            yield emulator
        finally:
            emulator.close()
