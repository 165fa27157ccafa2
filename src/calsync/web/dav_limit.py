"""The password-guessing limit on the built-in CalDAV server: a WSGI layer in front of Radicale
that reads the Basic-auth login, asks the app's one `LoginLimiter` (the same one the sign-in form
uses, same keys), answers 429 with the lock's length while locked, and counts Radicale's 401s
as failures. The sync engine's own per-user app password is no guess and is never limited, so an
attacker who locks an account does not also stop its calendar sync."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from calsync.providers.caldav.embedded import app_password
from calsync.web.pages.login_limit import LoginLimiter, attempt_keys, lock_message

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(login, password) of a Basic Authorization header, or None."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        login, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (login, password) if sep else None


class DavPasswordLimit:
    def __init__(self, app: WsgiApp, limiter: LoginLimiter, secret_key: str) -> None:
        self.app, self.limiter, self.secret_key = app, limiter, secret_key

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        credentials = basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            return self.app(environ, start_response)
        login, password = credentials
        if login and hmac.compare_digest(password.encode(), app_password(self.secret_key, login.strip()).encode()):
            return self.app(environ, start_response)
        keys = attempt_keys(login, environ.get("REMOTE_ADDR"))
        wait = self.limiter.seconds_locked(*keys)
        if wait:
            body = (lock_message(wait) + " (Too many wrong passwords for this account or from this address.)\n").encode()
            start_response("429 Too Many Requests", [
                ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                ("Retry-After", str(wait)),
            ])
            return [body]
        statuses: list[int] = []

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.app(environ, recording)
        if statuses and statuses[0] == 401:
            self.limiter.failed(*keys)
        elif statuses and statuses[0] < 400:
            self.limiter.succeeded(keys[0])
        return result
