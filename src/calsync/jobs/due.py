"""Which requested sync a free thread of the embedded pool takes next.

Requests are a heap of (due time, account); a request for an account that is already requested
keeps the earlier time (requests coalesce). A free thread takes the earliest due request whose
account is not running (a request that arrives during a run waits for that run to end, so one
account is never run by two threads) and whose provider is below its concurrency limit (it waits
while accounts of other providers go ahead). Not thread-safe on purpose: the runner calls it
under its own lock, which also guards its condition variable."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping

Job = tuple[int, str]  # (account id, reason)


class DueQueue:
    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self.limits = dict(limits or {})  # provider → runs at once; a provider not named has no limit
        self.providers: dict[int, str] = {}  # account → provider, as last read (unknown: no limit)
        self.next_due: float | None = None  # after take(): when the next request not yet due falls due
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[int, float] = {}
        self._running: dict[int, str] = {}  # account → the provider whose slot its run holds
        self._busy: Counter[str] = Counter()

    def request(self, account_id: int, reason: str, due: float) -> bool:
        """Adds a request; False when an earlier one for the account is already waiting."""
        current = self._due.get(account_id)
        if current is not None and current <= due:
            return False
        self._due[account_id] = due
        heapq.heappush(self._heap, (due, account_id, reason))
        return True

    def knows(self, account_id: int) -> bool:
        return account_id in self.providers

    def running(self) -> set[int]:
        return set(self._running)

    def _has_room(self, provider: str) -> bool:
        limit = self.limits.get(provider)
        return limit is None or self._busy[provider] < limit

    def take(self, now: float) -> Job | None:
        """The earliest request due by `now` that may run, marked running (the caller must call
        `done` after the run); None if none may. Sets `next_due`."""
        held: list[tuple[float, int, str]] = []
        job: Job | None = None
        self.next_due = None
        while self._heap:
            due, account_id, reason = self._heap[0]
            if self._due.get(account_id) != due:
                heapq.heappop(self._heap)  # superseded by an earlier request, or already taken
                continue
            if due > now:
                self.next_due = due
                break
            entry = heapq.heappop(self._heap)
            provider = self.providers.get(account_id, "")
            if account_id in self._running or not self._has_room(provider):
                held.append(entry)  # runs after its account's run or once its provider has room
                continue
            del self._due[account_id]
            self._running[account_id] = provider
            self._busy[provider] += 1
            job = (account_id, reason)
            break
        for entry in held:
            heapq.heappush(self._heap, entry)
        return job

    def done(self, account_id: int) -> None:
        """The account's run ended: its account and its provider's slot are free again."""
        provider = self._running.pop(account_id, None)
        if provider is not None:
            self._busy[provider] -= 1
