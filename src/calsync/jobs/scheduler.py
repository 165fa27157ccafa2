"""`calsync scheduler`: the one process that turns the shared queue into Celery tasks.

Any number may run (on different machines); one is active at a time. The active one holds a
Redis lock (`calsync:scheduler`, a few seconds long) and renews it every tick; the others stand
by and try to take it every second, so when the active one dies a standby takes over within the
lock's lifetime. While active, every tick (~0.2 s) it:

- moves the requests that are due from `calsync:due` into `calsync.sync_account` tasks (atomic
  pop; tasks never carry a countdown, so nothing waits inside the broker);
- every `sync_interval_seconds`, requests every enabled account (spread over the interval, as the
  embedded runner does) and sends one `calsync.renew_channels` task;
- every ~10 s, requests the accounts whose run lease has lapsed while still owned: a run cut
  off by a dead worker, finished by another worker."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

import redis
from sqlalchemy import select

from calsync.jobs.queue import QueuedScheduler
from calsync.store.tables import SyncAccount
from calsync.web.context import AppContext

log = logging.getLogger("calsync.jobs")
LOCK = "calsync:scheduler"
LOCK_TIME = 10.0  # a dead active scheduler is replaced within this (plus a standby's retry second)
TICK = 0.2
STANDBY_TRY = 1.0
LAPSED_EVERY = 10.0
WAITING_FOR_USER = ("auth_error", "needs_confirmation")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

Send = Callable[[str, list[object]], None]


class Scheduler:
    """One scheduler process. `step()` does one tick's work (tests drive it with a clock)."""

    def __init__(self, context: AppContext, client: redis.Redis, send: Send, *, clock: Callable[[], float] = time.time,
                 interval: float | None = None, lock_time: float = LOCK_TIME, lapsed_every: float = LAPSED_EVERY) -> None:
        self.context, self.client, self.send, self.clock = context, client, send, clock
        self.queue = QueuedScheduler(client, clock=clock)
        self.interval = float(interval if interval is not None else context.settings.sync_interval_seconds)
        self.lock_time, self.lapsed_every = lock_time, lapsed_every
        self.identity = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.active = False
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._next_round = 0.0
        self._next_lapsed = 0.0
        self._first_round = False
        self.stopping = threading.Event()

    # ------------------------------------------------------------ the lock

    def hold(self) -> bool:
        """Takes or keeps the lock; True while this scheduler is the active one."""
        ms = int(self.lock_time * 1000)
        if self.active and self._renew(keys=[LOCK], args=[self.identity, ms]):
            return True
        was = self.active
        self.active = bool(self.client.set(LOCK, self.identity, nx=True, px=ms))
        if self.active and not was:
            log.info("scheduler %s is active", self.identity)
            self._next_round = self._next_lapsed = self.clock()  # a new active one starts with a round
            self._first_round = True
        elif was and not self.active:
            log.warning("scheduler %s lost the lock: standing by", self.identity)
        return self.active

    def release(self) -> None:
        if self.active:
            self._release(keys=[LOCK], args=[self.identity])
            self.active = False

    # ------------------------------------------------------------ the work

    def step(self) -> int:
        """One tick while active: rounds when due, then due requests to tasks. Returns tasks sent."""
        now = self.clock()
        if now >= self._next_round:
            self._next_round = now + self.interval
            self.request_all(initial=self._first_round)
            self._first_round = False
            self.send("calsync.renew_channels", [])
        if now >= self._next_lapsed:
            self._next_lapsed = now + self.lapsed_every
            self.request_lapsed()
        sent = 0
        for account_id, reason in self.queue.pop_due():
            self.send("calsync.sync_account", [account_id, reason])
            sent += 1
        return sent

    def request_all(self, initial: bool = False) -> None:
        """Every enabled account once per interval, spread so they do not all run together (the
        first round of a newly active scheduler within a few seconds, as at the runner's start).
        Accounts waiting for their user (a reconnect, a decision) are left out: their runs would
        only say so again; reconnecting or deciding requests a sync itself."""
        session = self.context.sessions()
        try:
            ids = list(session.scalars(select(SyncAccount.id).where(
                SyncAccount.enabled.is_(True), SyncAccount.state.not_in(WAITING_FOR_USER))))
        finally:
            session.close()
        spread = max(1, int(self.interval))
        self.queue.request_many([(account_id, "schedule", ((account_id * 7919) % spread) % 3 if initial
                                  else (account_id * 7919) % spread) for account_id in ids])

    def request_lapsed(self) -> list[int]:
        """Accounts whose lease lapsed while still owned: their run's process died mid-run."""
        now = dt.datetime.now(dt.timezone.utc)
        session = self.context.sessions()
        try:
            ids = list(session.scalars(select(SyncAccount.id).where(
                SyncAccount.lease_owner.is_not(None), SyncAccount.lease_until < now)))
        finally:
            session.close()
        for account_id in ids:
            log.info("account %s: its run's lease lapsed (a worker died): requested again", account_id)
        self.queue.request_many([(account_id, "lapsed", 0.0) for account_id in ids])
        return ids

    def run_forever(self) -> None:
        """Ticks until `stopping` is set; releases the lock on the way out so a standby starts at once."""
        try:
            while not self.stopping.is_set():
                try:
                    if self.hold():
                        self.step()
                        self.stopping.wait(TICK)
                    else:
                        self.stopping.wait(STANDBY_TRY)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    log.warning("scheduler: Redis unreachable (%s); retrying", exc)
                    self.active = False
                    self.stopping.wait(STANDBY_TRY)
                except Exception:
                    log.exception("scheduler step failed")
                    self.stopping.wait(STANDBY_TRY)
        finally:
            try:
                self.release()
            except Exception:
                pass
