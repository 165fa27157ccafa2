"""A rate limit per provider shared by every worker: one token bucket per provider in Redis.

Why Redis and one Lua script: every `calsync worker` on every machine sends to the same Google
project / Microsoft app, so the limit has to be counted in one place, and taking tokens must be
atomic across processes. The script refills the bucket from Redis' own clock (no skew between
machines), takes the request's tokens and answers how long the caller must wait before sending:
the tokens are *reserved* (the bucket may go into debt), so a caller sleeps exactly that long once
instead of polling. A wait longer than `max_wait` reserves nothing and raises RateLimited, so the
sync is retried later by the scheduler instead of holding a worker thread.

A 429 with Retry-After pushes the provider's bucket back (`hold_back`): every worker waits that
long before its next request to that provider, not only the one that was told.

Rates come from `CALSYNC_PROVIDER_RATE_LIMITS` ("google=50,microsoft=50,caldav=50", requests per
second); a provider without a rate (or 0) is not limited. The burst is a fifth of a second's
worth (at least 1). `install(settings)` sets the gate when `CALSYNC_BROKER_URL` is set."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import redis

from calsync.config import Settings
from calsync.providers import gate
from calsync.sync.provider import RateLimited

log = logging.getLogger("calsync.jobs.ratelimit")
PREFIX = "calsync:ratelimit:"
MAX_WAIT = 10.0  # like the providers' HTTP layers: longer waits go back to the scheduler
BURST_SECONDS = 0.2

# KEYS[1]: the bucket. ARGV: rate (tokens/s), burst (capacity), cost, max_wait (s), hold (s).
# hold > 0: push the bucket back so the next request waits `hold` seconds; answers 0.
# Otherwise: reserve `cost` tokens and answer the wait in seconds (as a string: Lua numbers would
# be truncated to integers), or, when the wait exceeds max_wait, reserve nothing and answer
# "-" followed by the wait.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, max_wait, hold = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate) end
local answer
if hold > 0 then
  tokens = math.min(tokens, 1 - hold * rate)
  answer = '0'
else
  local after = tokens - cost
  local wait = 0
  if after < 0 then wait = -after / rate end
  if wait > max_wait then return '-' .. tostring(wait) end
  tokens = after
  answer = tostring(wait)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(((burst - tokens) / rate + 1) * 1000))
return answer
"""


def burst_for(rate: float) -> float:
    """The bucket's capacity: a small burst, so a quiet moment does not bank a flood."""
    return max(1.0, math.ceil(rate * BURST_SECONDS))


class RedisGate:
    """The providers' Gate (calsync.providers.gate) backed by one Redis token bucket per provider."""

    def __init__(self, client: redis.Redis, rates: dict[str, float], *, max_wait: float = MAX_WAIT,
                 sleep: Callable[[float], None] = time.sleep, prefix: str = PREFIX) -> None:
        self.client = client
        self.rates = {name: rate for name, rate in rates.items() if rate > 0}
        self.max_wait = max_wait
        self.sleep = sleep
        self.prefix = prefix
        self.script = client.register_script(SCRIPT)
        self._warned_at = 0.0

    def _run(self, provider: str, cost: float, hold: float) -> str | None:
        rate = self.rates[provider]
        try:
            answer: Any = self.script(keys=[self.prefix + provider],
                                      args=[rate, burst_for(rate), cost, self.max_wait, hold])
        except redis.RedisError as exc:
            # Redis is also the broker: when it is gone no new syncs start anyway. Requests already
            # under way go on unlimited rather than fail, and the log says so (once a minute).
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("shared rate limit unavailable (%s): requests to %s go unlimited", exc, provider)
            return None
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    def wait(self, provider: str, cost: int = 1) -> None:
        if provider not in self.rates:
            return
        answer = self._run(provider, max(1, cost), 0)
        if answer is None:
            return
        if answer.startswith("-"):
            raise RateLimited(f"the shared rate limit for {provider} is used up: the sync continues later",
                              retry_after=math.ceil(float(answer[1:])))
        seconds = float(answer)
        if seconds > 0:
            self.sleep(seconds)

    def hold_back(self, provider: str, seconds: float) -> None:
        if provider in self.rates and seconds > 0:
            self._run(provider, 1, seconds)


def install(settings: Settings) -> None:
    """Sets the process-wide gate to the shared Redis buckets when a broker is configured (scale-out);
    with no broker (embedded) the gate stays unlimited. Safe to call more than once."""
    if not settings.broker_url:
        return
    if not settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        log.warning("CALSYNC_BROKER_URL is not a Redis URL: provider requests are not rate limited")
        return
    # Short timeouts: a Redis that hangs must not hang every provider request (they go on unlimited).
    client = redis.Redis.from_url(settings.broker_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    gate.set_gate(RedisGate(client, settings.provider_numbers("provider_rate_limits")))
