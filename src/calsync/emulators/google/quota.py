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


@dataclass
class Quota:
    per_user: int
    per_project: int
    status: int = 403   # 403 usageLimits (rateLimitExceeded / userRateLimitExceeded) or 429
    retry_after: int | None = None
    _user: dict[str, deque[tuple[datetime, int]]] = field(default_factory=dict)
    _project: deque[tuple[datetime, int]] = field(default_factory=deque)

    @staticmethod
    def _used(window: deque[tuple[datetime, int]], now: datetime) -> int:
        while window and window[0][0] <= now - WINDOW:
            window.popleft()
        return sum(units for _, units in window)

    def charge(self, user: str, units: int, now: datetime) -> None:
        mine = self._user.setdefault(user, deque())
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self._used(self._project, now) + units > self.per_project:
            raise ApiError(self.status, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits",
                           headers=headers)
        if self._used(mine, now) + units > self.per_user:
            reason = "userRateLimitExceeded" if self.status == 403 else "rateLimitExceeded"
            raise ApiError(self.status, reason, "Rate Limit Exceeded", domain="usageLimits", headers=headers)
        mine.append((now, units))
        self._project.append((now, units))

    def reset(self) -> None:
        self._user.clear()
        self._project.clear()


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
