"""The access token of one OAuth account (Google, Microsoft), shared by the providers: refreshed
shortly before it expires and once more when the API answers 401; a refresh that returns a new
refresh token (rotation) replaces the stored one, and `on_update` lets the owner persist it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, Protocol

from calsync.sync.provider import AuthError

REFRESH_MARGIN = dt.timedelta(seconds=120)

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Refresher(Protocol):
    """What a token source needs from an OAuth client: a refresh grant."""

    def refresh(self, refresh_token: str, clock: Clock = ...) -> dict[str, Any]: ...


class TokenSource:
    """The access token of one account, refreshed before it expires; thread-safe.

    `credentials` is updated in place on every refresh, and `on_update(credentials)` is called so
    the owner can store the new (encrypted) tokens, rotated refresh tokens included. `reconnect`
    is the AuthError message when there is no refresh token to use."""

    def __init__(self, client: Refresher, credentials: dict[str, Any], *, clock: Clock = utcnow,
                 on_update: Callable[[dict[str, Any]], None] | None = None,
                 reconnect: str = "the calendar grant has expired or was revoked: reconnect it in Settings › Calendar sync") -> None:
        self.client = client
        self.credentials = credentials
        self.clock = clock
        self.on_update = on_update
        self.reconnect = reconnect
        self.refreshes = 0
        self._lock = threading.Lock()

    def _expires_at(self) -> dt.datetime | None:
        raw = self.credentials.get("expires_at")
        return dt.datetime.fromisoformat(raw) if raw else None

    def bearer(self) -> str:
        """A valid access token, refreshed first when it expires within two minutes."""
        with self._lock:
            expires = self._expires_at()
            token = self.credentials.get("access_token")
            if not token or (expires is not None and expires - REFRESH_MARGIN <= self.clock()):
                self._refresh()
            return str(self.credentials["access_token"])

    def refresh_after_401(self, rejected: str) -> str:
        """The API refused `rejected`: refresh (unless another thread already did) and return the new one."""
        with self._lock:
            if self.credentials.get("access_token") == rejected:
                self._refresh()
            return str(self.credentials["access_token"])

    def _refresh(self) -> None:
        refresh_token = self.credentials.get("refresh_token")
        if not refresh_token:
            raise AuthError(self.reconnect)
        fresh = self.client.refresh(str(refresh_token), self.clock)
        self.credentials.update(fresh)
        self.refreshes += 1
        if self.on_update is not None:
            self.on_update(dict(self.credentials))
