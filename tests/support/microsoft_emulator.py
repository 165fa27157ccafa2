"""The Microsoft Graph emulator served by a real Uvicorn on 127.0.0.1, and a small client for it
(on tests/support/emulator_client.py, shared with the Google one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from calsync.emulators.microsoft import EmulatorConfig, create_app
from tests.support.emulator_client import USERS, EmulatorClient, Hook, served

__all__ = ["USERS", "MicrosoftEmulator", "microsoft_emulator"]


class MicrosoftEmulator(EmulatorClient):
    """The base URL plus helpers to act as a user and to drive the `/_emulator/` controls."""

    config: EmulatorConfig

    def client(self, user: str = USERS[0], scopes: list[str] | None = None,
               headers: dict[str, str] | None = None) -> httpx.Client:
        """A Graph client acting as `user` (base URL .../v1.0), as if editing in Outlook."""
        return self.api_client("/v1.0", user, scopes, headers)

    def add_calendar(self, user: str = USERS[0], name: str = "Work") -> str:
        return str(self.post("/calendars", {"user": user, "name": name})["id"])

    def settle(self) -> None:
        assert self.control.post("/notifications/settle").json() == {"idle": True}


@contextmanager
def microsoft_emulator(config: EmulatorConfig | None = None,
                       hooks: list[Hook] | None = None) -> Iterator[MicrosoftEmulator]:
    config = config or EmulatorConfig(users=list(USERS))
    with served(MicrosoftEmulator, create_app(config), config, hooks) as emulator:
        yield emulator
