"""The Google Calendar emulator served by a real Uvicorn on 127.0.0.1, and a small client for it."""

from __future__ import annotations

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
