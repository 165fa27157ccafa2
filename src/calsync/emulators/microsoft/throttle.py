"""Graph's Outlook limits per app and mailbox (10,000 requests per 10 minutes, 4 at a time) and
injected faults. Each request counts, also each request inside a `$batch`; throttled ones too."""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from calsync.emulators.microsoft.errors import FAULT_DEFAULTS, GraphError

WINDOW = timedelta(minutes=10)


def throttled(message: str, retry_after: int) -> GraphError:
    return GraphError(429, "ApplicationThrottled", message, {"Retry-After": str(retry_after)})


@dataclass
class Limits:
    per_window: int
    concurrent: int
    retry_after: int | None = None      # fixed Retry-After; None = until the window frees a slot
    _seen: dict[str, deque[datetime]] = field(default_factory=dict)
    _running: dict[str, int] = field(default_factory=dict)

    def charge(self, user: str, now: datetime) -> None:
        seen = self._seen.setdefault(user, deque())
        while seen and seen[0] <= now - WINDOW:
            seen.popleft()
        seen.append(now)
        if len(seen) > self.per_window:
            wait = self.retry_after
            if wait is None:
                wait = max(1, math.ceil((seen[-self.per_window - 1] + WINDOW - now).total_seconds()))
            raise throttled(f"Application is over its limit of {self.per_window} requests per 10 minutes "
                            f"for this mailbox.", wait)

    def enter(self, user: str) -> None:
        """One more request in flight for this mailbox; 429 MailboxConcurrency above the limit."""
        running = self._running.get(user, 0)
        if running >= self.concurrent:
            raise throttled("Application is over its MailboxConcurrency limit.",
                            self.retry_after if self.retry_after is not None else 1)
        self._running[user] = running + 1

    def leave(self, user: str) -> None:
        self._running[user] = max(0, self._running.get(user, 0) - 1)

    def reset(self) -> None:
        self._seen.clear()


@dataclass
class Fault:
    status: int
    count: int
    methods: set[str]
    path: re.Pattern[str] | None
    code: str | None
    retry_after: int | None

    def error(self) -> GraphError:
        code, message = FAULT_DEFAULTS.get(self.status, ("ErrorInternalServerError", "The operation failed."))
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return GraphError(self.status, self.code or code, message, headers)


class Faults:
    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def take(self, method: str, path: str) -> GraphError | None:
        """The next injected failure matching this request, if any (each fires `count` times)."""
        for fault in self.pending:
            if (not fault.methods or method in fault.methods) and (fault.path is None or fault.path.search(path)):
                fault.count -= 1
                if fault.count <= 0:
                    self.pending.remove(fault)
                return fault.error()
        return None
