"""Keeps the sync engine's own requests to the built-in calendar out of the access log.

The engine reaches the embedded calendar over HTTP like any CalDAV server, with the per-user app
password (`embedded.app_password`) that only it holds, so a first sync of a few hundred items would
otherwise print a few hundred access lines that no client made. Uvicorn writes the access line
itself and its record carries only the client address ("host:port"), method, path, version and
status; so the wrapper around the mounted calendar notes the client address of each request that
signs in with an app password, and a filter on `uvicorn.access` drops the next line of that
address. One HTTP/1.1 connection carries one request at a time, so the address names the request.
Calendar apps signing in with a user's own password are clients and stay logged."""

from __future__ import annotations

import hmac
import logging
import threading
from collections import Counter
from typing import Any

from calsync.providers.caldav.embedded import app_password
from calsync.web.dav_limit import basic_credentials

ACCESS_LOGGER = "uvicorn.access"


class OwnRequests(logging.Filter):
    """Counts pending own requests per client address; drops their access lines (not at debug)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, client: str) -> None:
        with self._lock:
            self._pending[client] += 1

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
            return True
        with self._lock:
            if self._pending[args[0]] <= 0:
                return True
            self._pending[args[0]] -= 1
            if self._pending[args[0]] == 0:
                del self._pending[args[0]]
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def is_own_request(headers: list[tuple[bytes, bytes]], secret_key: str) -> bool:
    """True when the request signs in to the built-in calendar with the engine's app password."""
    for name, value in headers:
        if name.lower() == b"authorization":
            creds = basic_credentials(value.decode("latin-1"))
            if creds is None:
                return False
            login, password = creds
            return hmac.compare_digest(password.encode(), app_password(secret_key, login.strip()).encode())
    return False


class MarkOwnRequests:
    """ASGI wrapper of the mounted calendar: notes the engine's requests for `OwnRequests`."""

    def __init__(self, app: Any, own: OwnRequests, secret_key: str) -> None:
        self.app, self.own, self.secret_key = app, own, secret_key

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope.get("type") == "http" and client and is_own_request(scope.get("headers") or [], self.secret_key):
            self.own.note(f"{client[0]}:{client[1]}")
        await self.app(scope, receive, send)


def attach(own: OwnRequests) -> None:
    logging.getLogger(ACCESS_LOGGER).addFilter(own)


def detach(own: OwnRequests) -> None:
    logging.getLogger(ACCESS_LOGGER).removeFilter(own)
