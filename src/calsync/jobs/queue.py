"""The scale-out side of `SyncScheduler`: a request is one entry in a Redis sorted set
(`calsync:due`, score = when it is due, wall-clock seconds), so web processes, workers and the
scheduler on any machine share one queue of future syncs. `ZADD LT` keeps the earliest due time,
so requests for one account coalesce (a change a second from now beats the schedule in five
minutes); the reason is kept beside it in a hash. `calsync scheduler` pops due entries
atomically and turns each into a Celery task: long delays live here, never in the broker, so a
waiting task can never be redelivered by the broker's visibility timeout.

Failure counts (for the retry backoff of jobs/outcome.py) live in Redis too: the next run of an
account may happen on another worker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

log = logging.getLogger("calsync.jobs")

DUE = "calsync:due"
REASONS = "calsync:reason"
FAILURES = "calsync:failures"
STICKY = "resync"  # a full resync stays asked for when a plainer request coalesces with it

_REQUEST = """
local changed = redis.call('ZADD', KEYS[1], 'LT', 'CH', ARGV[1], ARGV[2])
local current = redis.call('HGET', KEYS[2], ARGV[2])
if current ~= ARGV[4] and (changed == 1 or not current or ARGV[3] == ARGV[4]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
return changed
"""

_POP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local reason = redis.call('HGET', KEYS[2], member)
  redis.call('HDEL', KEYS[2], member)
  table.insert(out, member)
  table.insert(out, reason or 'schedule')
end
return out
"""


def connect(url: str) -> redis.Redis:
    """A client for the broker URL (decoded strings; short timeouts so a lost server shows)."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=10,
                                health_check_interval=30)


class QueuedScheduler:
    """`request_sync` for processes that run no syncs themselves (web, workers' follow-ups)."""

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> None:
        self.client, self.clock = client, clock
        self._request = client.register_script(_REQUEST)
        self._pop = client.register_script(_POP)

    @classmethod
    def from_url(cls, url: str) -> "QueuedScheduler":
        return cls(connect(url))

    def request_sync(self, account_id: int, reason: str, *, delay: float = 0.0) -> None:
        """Never raises: with Redis unreachable the request is dropped and logged (a web request or a
        CRM write must not fail for it); the scheduler's next round asks for every account again."""
        due = self.clock() + max(0.0, delay)
        try:
            self._request(keys=[DUE, REASONS], args=[repr(due), str(account_id), reason, STICKY])
        except redis.RedisError as exc:
            log.warning("could not queue a sync of account %s (%s): %s", account_id, reason, exc)

    def request_many(self, requests: list[tuple[int, str, float]]) -> None:
        """`request_sync` for many accounts in one round trip per thousand (the scheduler's rounds)."""
        now = self.clock()
        for start in range(0, len(requests), 1000):
            pipe = self.client.pipeline(transaction=False)
            for account_id, reason, delay in requests[start:start + 1000]:
                self._request(keys=[DUE, REASONS], args=[repr(now + max(0.0, delay)), str(account_id), reason, STICKY],
                              client=pipe)
            pipe.execute()

    def pop_due(self, limit: int = 500) -> list[tuple[int, str]]:
        """Takes every request due by now off the set (atomically: two schedulers never both get one)."""
        flat = self._pop(keys=[DUE, REASONS], args=[repr(self.clock()), str(limit)])
        return [(int(flat[i]), str(flat[i + 1])) for i in range(0, len(flat), 2)]

    def pending(self) -> dict[int, tuple[float, str]]:
        """Every waiting request: {account: (due, reason)} (status pages, tests)."""
        entries = self.client.zrange(DUE, 0, -1, withscores=True)
        reasons = self.client.hgetall(REASONS)
        return {int(m): (float(s), reasons.get(m, "schedule")) for m, s in entries}

    # ------------------------------------------------------------ failures in a row

    def failed(self, account_id: int) -> int:
        """Counts one more failed run; returns the count including it."""
        return int(self.client.hincrby(FAILURES, str(account_id), 1))

    def succeeded(self, account_id: int) -> None:
        self.client.hdel(FAILURES, str(account_id))
