"""What the Google and Microsoft emulators' test clients share: serving the app on 127.0.0.1, the
`/_emulator/` controls (tokens, the request log) and answering the consent page as a user would.
Each provider's module adds its API's base path and its own controls."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from tests.support.live import serve

USERS = ["a@example.com", "b@example.com"]

Hook = Callable[[httpx.Response], None]


class EmulatorClient:
    """The base URL plus helpers to act as a user and to drive the `/_emulator/` controls."""

    def __init__(self, base: str, config: Any, hooks: list[Hook]) -> None:
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

    def api_client(self, root: str, user: str, scopes: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Client:
        """A client of the API below `root` acting as `user`, closed with the emulator."""
        client = httpx.Client(base_url=self.base + root, timeout=30,
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

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = self.control.post(path, json=body or {})
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.control.get("/requests", params={"since": since}).json()["requests"])

    def close(self) -> None:
        for client in self._clients:
            client.close()


E = TypeVar("E", bound=EmulatorClient)


@contextmanager
def served(kind: type[E], app: Any, config: Any, hooks: list[Hook] | None) -> Iterator[E]:
    """`app` served by a real Uvicorn, with a `kind` client for it, closed at the end."""
    with serve(app) as base:
        emulator = kind(base, config, hooks or [])
        try:
            yield emulator
        finally:
            emulator.close()
