"""When syncs run. The embedded runner (default) lives in the app process: a sync about a second
after a synced user's CRM change or a calendar app's write to the built-in calendar
(web/dav_writes.py), one per account on a spread-out schedule, external CalDAV accounts polled
every minute at their own slot (jobs/polling.py), and "sync now";
never two runs of one account at once; failed runs retried with backoff; an auth error waits for
a reconnect. Anything else that schedules syncs (Celery later, webhooks) implements
`SyncScheduler`."""

from __future__ import annotations

import datetime as dt

import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy import select

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync.crm.services import changes
from calsync.store.tables import SyncAccount
from calsync.jobs.outcome import counts_as_failure, follow_up
from calsync.jobs.polling import is_polled, next_poll
from calsync.jobs.push import Channels
from calsync.sync.credentials import opener_with_store
from calsync.sync.engine import SyncEngine
from calsync.sync.summary import RunSummary
from calsync.web.context import AppContext

log = logging.getLogger("calsync.jobs")


class SyncScheduler(Protocol):
    def request_sync(self, account_id: int, reason: str, *, delay: float = 0.0) -> None:
        """Asks for a sync of the account after `delay` seconds (requests coalesce)."""
        ...


def engine_for(context: AppContext) -> SyncEngine:
    """The app's one engine (its per-account locks are what forbid overlapping runs)."""
    engine = context.extras.get("sync_engine")
    if engine is None:
        engine = SyncEngine(context.sessions, opener_with_store(context.box, context.sessions),
                            base_url=context.settings.resolved_base_url(),
                            run_budget=dt.timedelta(seconds=context.settings.sync_run_budget_seconds))
        context.extras["sync_engine"] = engine
    return engine


class EmbeddedRunner:
    """A timer thread and one worker thread; requests are a heap of (due time, account)."""

    def __init__(self, context: AppContext, engine: SyncEngine | None = None, *, interval: float | None = None,
                 debounce: float | None = None, poll: float | None = None, retry_base: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.context = context
        self.engine = engine or engine_for(context)
        self.interval = float(interval if interval is not None else context.settings.sync_interval_seconds)
        self.debounce = float(debounce if debounce is not None else context.settings.sync_debounce_seconds)
        self.poll = float(poll if poll is not None else context.settings.caldav_poll_seconds)
        self.clock = clock
        self.retry_base = retry_base
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.history: list[RunSummary] = []  # recent runs (bounded), for tests and status pages
        self.requests: list[tuple[int, str]] = []  # recent requests (account, reason), bounded, for tests
        self.channels = Channels(context)  # push channels: opened after a successful run, renewed each round

    # --------------------------------------------------------------- interface

    def request_sync(self, account_id: int, reason: str, *, delay: float = 0.0) -> None:
        due = self.clock() + max(0.0, delay)
        with self._cond:
            self.requests = (self.requests + [(account_id, reason)])[-200:]
            current = self._due.get(account_id)
            if current is not None and current <= due:
                return
            self._due[account_id] = due
            heapq.heappush(self._heap, (due, account_id, reason))
            self._cond.notify()

    def start(self) -> None:
        changes.subscribe(self._on_change)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="calsync-sync-runner", daemon=True)
        self._thread.start()
        self._schedule_all(initial=True)

    def stop(self) -> None:
        changes.unsubscribe(self._on_change)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # --------------------------------------------------------------- internals

    def _account_of(self, user_id: int) -> int | None:
        session = self.context.sessions()
        try:
            return session.scalar(select(SyncAccount.id).where(SyncAccount.user_id == user_id, SyncAccount.enabled.is_(True)))
        finally:
            session.close()

    def _on_change(self, owner_id: int, activity_id: int) -> None:
        """A CRM change of a user's activity: sync that user's account a moment later."""
        try:
            account_id = self._account_of(owner_id)
        except Exception:  # the listener must never break the CRM write that announced it
            log.exception("could not look up the sync account of user %s", owner_id)
            return
        if account_id is not None:
            self.request_sync(account_id, "change", delay=self.debounce)

    def round(self) -> None:
        """One regular pass: every account scheduled, and push channels that expire soon renewed
        (independent of the accounts' runs, so failing runs never let a channel lapse)."""
        self._safe(self._schedule_all)
        self._safe(self.channels.renew_due)

    def _schedule_all(self, initial: bool = False) -> None:
        """Every enabled account once per interval, spread so they do not all run together."""
        session = self.context.sessions()
        try:
            ids = list(session.scalars(select(SyncAccount.id).where(SyncAccount.enabled.is_(True))))
        finally:
            session.close()
        for account_id in ids:
            offset = (account_id * 7919) % max(1, int(self.interval))
            self.request_sync(account_id, "schedule", delay=(offset if not initial else offset % 3))

    def _pop_due(self) -> tuple[int, str] | None:
        """The next request due by now, taken off the heap; None if none is due (caller holds the lock)."""
        while self._heap and not self._stop.is_set():
            due, account_id, reason = self._heap[0]
            if self._due.get(account_id) != due:
                heapq.heappop(self._heap)  # superseded by an earlier request
                continue
            if due > self.clock():
                break
            heapq.heappop(self._heap)
            del self._due[account_id]
            return account_id, reason
        return None

    def _next(self) -> tuple[int, str] | None:
        """The next due request, or None after waiting up to a second."""
        with self._cond:
            job = self._pop_due()
            if job is not None:
                return job
            wait = min(1.0, self._heap[0][0] - self.clock()) if self._heap else 1.0
            self._cond.wait(timeout=max(0.01, wait))
        return None

    def run_due(self) -> list[tuple[int, str]]:
        """Runs, in this thread, every request due by the clock's now (for an injected clock)."""
        ran: list[tuple[int, str]] = []
        while True:
            with self._cond:
                job = self._pop_due()
            if job is None:
                return ran
            ran.append(job)
            self._run(*job)

    def _loop(self) -> None:
        next_round = self.clock() + self.interval
        while not self._stop.is_set():
            if self.clock() >= next_round:
                next_round = self.clock() + self.interval
                self.round()
            job = self._next()
            if job is not None:
                self._safe(lambda: self._run(*job))

    def _safe(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            log.exception("sync runner step failed")

    def _run(self, account_id: int, reason: str) -> None:
        summary = self.engine.run(account_id, trigger=reason)
        self.history = (self.history + [summary])[-200:]
        failures = self._failures.get(account_id, 0) + 1 if counts_as_failure(summary) else 0
        if failures:
            self._failures[account_id] = failures
        elif summary.status != "busy":
            self._failures.pop(account_id, None)
        follow = follow_up(summary, failures, retry_base=self.retry_base)
        if follow is not None:
            self.request_sync(account_id, reason if follow.reason == "busy" else follow.reason, delay=follow.delay)
        if summary.status == "ok":
            self._safe(lambda: self.channels.ensure(account_id))
            self._safe(lambda: self._plan_poll(account_id))

    def _plan_poll(self, account_id: int) -> None:
        """After a good run of an account that cannot push: its next poll, at its own slot."""
        session = self.context.sessions()
        try:
            account = session.get(SyncAccount, account_id)
            polled = account is not None and account.enabled and is_polled(self.context.box, account)
        finally:
            session.close()
        if polled:
            now = self.clock()
            self.request_sync(account_id, "poll", delay=next_poll(account_id, self.poll, now) - now)


def install(app: FastAPI, context: AppContext) -> None:
    """Starts the embedded runner with the app when `CALSYNC_RUNNER=embedded` (the default)."""
    engine_for(context)
    if context.settings.runner != "embedded":
        return
    runner = EmbeddedRunner(context)
    context.extras["runner"] = runner
    context.extras.setdefault("startup", []).append(runner.start)
    context.extras.setdefault("shutdown", []).append(runner.stop)
