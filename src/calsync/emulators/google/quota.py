"""Sliding-window rate limits (per user and per project) and injected faults.

Each logical API call counts, also inside a batch; a patch costs three units as Google documents.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from calsync.emulators.google.errors import ApiError

WINDOW = timedelta(minutes=1)


class Window:
    """Units spent in the last minute, with a running total (no re-summing per call)."""

    def __init__(self) -> None:
        self.entries: deque[tuple[datetime, int]] = deque()
        self.total = 0

    def used(self, now: datetime) -> int:
        while self.entries and self.entries[0][0] <= now - WINDOW:
            self.total -= self.entries.popleft()[1]
        return self.total

    def add(self, now: datetime, units: int) -> None:
        self.entries.append((now, units))
        self.total += units


@dataclass
class Quota:
    per_user: int
    per_project: int
    status: int = 403   # 403 usageLimits (rateLimitExceeded / userRateLimitExceeded) or 429
    retry_after: int | None = None
    _user: dict[str, Window] = field(default_factory=dict)
    _project: Window = field(default_factory=Window)

    def charge(self, user: str, units: int, now: datetime) -> None:
        mine = self._user.setdefault(user, Window())
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self._project.used(now) + units > self.per_project:
            raise ApiError(self.status, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits",
                           headers=headers)
        if mine.used(now) + units > self.per_user:
            reason = "userRateLimitExceeded" if self.status == 403 else "rateLimitExceeded"
            raise ApiError(self.status, reason, "Rate Limit Exceeded", domain="usageLimits", headers=headers)
        mine.add(now, units)
        self._project.add(now, units)

    def reset(self) -> None:
        self._user.clear()
        self._project = Window()


_REASONS = {400: ("global", "badRequest", "Bad Request"), 401: ("global", "authError", "Invalid Credentials"),
            403: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
            404: ("global", "notFound", "Not Found"), 409: ("global", "conflict", "Conflict"),
            410: ("global", "deleted", "Resource has been deleted"),
            412: ("global", "conditionNotMet", "Precondition Failed"),
            429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
            500: ("global", "backendError", "Backend Error"), 503: ("global", "backendError", "Backend Error")}


@dataclass
class Fault:
    status: int
    count: int
    methods: set[str]
    path: re.Pattern[str] | None
    reason: str | None
    retry_after: int | None

    def error(self) -> ApiError:
        domain, reason, message = _REASONS.get(self.status, ("global", "backendError", "Backend Error"))
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return ApiError(self.status, self.reason or reason, message, domain=domain, headers=headers)


class Faults:
    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def take(self, method: str, path: str) -> ApiError | None:
        """The next injected failure that matches this call, if any (each fires `count` times)."""
        for fault in self.pending:
            if (not fault.methods or method in fault.methods) and (fault.path is None or fault.path.search(path)):
                fault.count -= 1
                if fault.count <= 0:
                    self.pending.remove(fault)
                return fault.error()
        return None
