"""One limit on password guessing, for every way to present a password (the sign-in form,
Basic auth on the built-in CalDAV server /dav/, and any later path): they all ask the same
`LoginLimiter` of the app (`limiter_for`) with the same keys (`attempt_keys`).

A limit on failed sign-ins: after `login_max_failures` failures for one e-mail address within
`login_lock_seconds`, further attempts for it are refused until the window has passed, even with
the right password. One client address gets `CLIENT_FACTOR` times as many failures (it stops
password spraying across accounts without locking out an office behind one address).
Kept in memory: one app process, one set of counters."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from calsync.web.i18n import _ln


CLIENT_FACTOR = 4
LIMITER_KEY = "login_limiter"


def attempt_keys(email: str, client_address: str | None) -> tuple[str, str]:
    """The account's key first, then the client address's."""
    return "email:" + email.strip().lower(), "client:" + (client_address or "?")


def lock_message(seconds: int) -> str:
    """What the user is told while locked: what happened and how long it lasts."""
    minutes = max(1, round(seconds / 60))
    return _ln("Too many failed sign-ins. Try again in about %(n)s minute.",
               "Too many failed sign-ins. Try again in about %(n)s minutes.", minutes)


def limiter_for(context: Any) -> "LoginLimiter":
    """The app's one limiter (made on first use from the settings)."""
    limiter = context.extras.get(LIMITER_KEY)
    if limiter is None:
        limiter = LoginLimiter(context.settings.login_max_failures, context.settings.login_lock_seconds)
        context.extras[LIMITER_KEY] = limiter
    return limiter


class LoginLimiter:
    def __init__(self, max_failures: int, lock_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] >= self.lock_seconds:
            times.popleft()
        return times

    def _limit(self, key: str) -> int:
        return self.max_failures * (CLIENT_FACTOR if key.startswith("client:") else 1)

    def seconds_locked(self, *keys: str) -> int:
        """How long these keys stay locked (0 = the attempt may proceed). Keys starting with
        "client:" allow CLIENT_FACTOR times more failures than the others."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                limit = self._limit(key)
                if len(times) >= limit:
                    wait = max(wait, self.lock_seconds - (now - times[-limit]))
        return int(wait + 0.999) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
