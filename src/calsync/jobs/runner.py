"""When syncs run. The embedded runner (default) lives in the app process: a small pool of
threads (`CALSYNC_RUNNER_THREADS`, 4) so one slow account never holds up the rest, with at most
`CALSYNC_PROVIDER_CONCURRENCY` runs of one provider at once; a sync about a second after a synced
user's CRM change or a calendar app's write to the built-in calendar (web/dav_writes.py), one per
account on a spread-out schedule, external CalDAV accounts polled every minute at their own slot
(jobs/polling.py), and "sync now"; never two runs of one account at once; failed runs retried
with backoff (jobs/outcome.py); an auth error waits for a reconnect. Anything else that schedules
syncs (the Celery queue, webhooks) implements `SyncScheduler`."""

from __future__ import annotations

import datetime as dt

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy import select

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync.crm.services import changes
from calsync.store.tables import SyncAccount
from calsync.jobs.due import DueQueue
from calsync.jobs.outcome import counts_as_failure, follow_up
from calsync.jobs.polling import poll_delay
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
    """A small pool in the app process: `threads` worker threads take due requests (jobs/due.py),
    so one slow account never holds up the rest; at most `limits[provider]` runs of one provider
    at once; a timer thread runs the regular rounds."""

    def __init__(self, context: AppContext, engine: SyncEngine | None = None, *, interval: float | None = None,
                 debounce: float | None = None, poll: float | None = None, retry_base: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, threads: int | None = None,
                 limits: Mapping[str, float] | None = None) -> None:
        settings = context.settings
        self.context = context
        self.engine = engine or engine_for(context)
        self.interval = float(interval if interval is not None else settings.sync_interval_seconds)
        self.debounce = float(debounce if debounce is not None else settings.sync_debounce_seconds)
        self.poll = float(poll if poll is not None else settings.caldav_poll_seconds)
        self.clock = clock
        self.retry_base = retry_base
        self.threads = max(1, int(threads if threads is not None else settings.runner_threads))
        numbers = limits if limits is not None else settings.provider_numbers("provider_concurrency")
        self._queue = DueQueue({provider: max(1, int(n)) for provider, n in numbers.items()})
        self._failures: dict[int, int] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.history: list[RunSummary] = []  # recent runs (bounded), for tests and status pages
        self.requests: list[tuple[int, str]] = []  # recent requests (account, reason), bounded, for tests
        self.channels = Channels(context)  # push channels: opened after a successful run, renewed each round

    # --------------------------------------------------------------- interface

    def request_sync(self, account_id: int, reason: str, *, delay: float = 0.0) -> None:
        provider = None
        if reason == "connect" or not self._queue.knows(account_id):  # a reconnect may change it
            provider = self._provider_of(account_id)
        due = self.clock() + max(0.0, delay)
        with self._cond:
            self.requests = (self.requests + [(account_id, reason)])[-200:]
            if provider is not None:
                self._queue.providers[account_id] = provider
            if self._queue.request(account_id, reason, due):
                self._cond.notify()

    def running(self) -> set[int]:
        """The accounts whose run is in progress (for tests and status pages)."""
        with self._cond:
            return self._queue.running()

    def start(self) -> None:
        changes.subscribe(self._on_change)
        self._stop.clear()
        self._threads = [threading.Thread(target=self._rounds, name="calsync-sync-rounds", daemon=True)]
        self._threads += [threading.Thread(target=self._work, name=f"calsync-sync-{n + 1}", daemon=True)
                          for n in range(self.threads)]
        for thread in self._threads:
            thread.start()
        self._schedule_all(initial=True)

    def stop(self) -> None:
        changes.unsubscribe(self._on_change)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + 30
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []

    # --------------------------------------------------------------- internals

    def _account_of(self, user_id: int) -> int | None:
        session = self.context.sessions()
        try:
            return session.scalar(select(SyncAccount.id).where(SyncAccount.user_id == user_id, SyncAccount.enabled.is_(True)))
        finally:
            session.close()

    def _provider_of(self, account_id: int) -> str | None:
        """The account's provider, for its concurrency limit (None if unknown: no limit applies)."""
        try:
            session = self.context.sessions()
            try:
                return session.scalar(select(SyncAccount.provider).where(SyncAccount.id == account_id))
            finally:
                session.close()
        except Exception:  # a request must never fail over its limit's bookkeeping
            log.exception("could not read the provider of account %s", account_id)
            return None

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
            rows = list(session.execute(select(SyncAccount.id, SyncAccount.provider).where(SyncAccount.enabled.is_(True))))
        finally:
            session.close()
        with self._cond:
            self._queue.providers.update({account_id: provider for account_id, provider in rows})
        for account_id, _ in rows:
            offset = (account_id * 7919) % max(1, int(self.interval))
            self.request_sync(account_id, "schedule", delay=(offset if not initial else offset % 3))

    def run_due(self) -> list[tuple[int, str]]:
        """Runs, in this thread, every request due by the clock's now (for an injected clock)."""
        ran: list[tuple[int, str]] = []
        while not self._stop.is_set():
            with self._cond:
                job = self._queue.take(self.clock())
            if job is None:
                return ran
            ran.append(job)
            self._run_taken(job)
        return ran

    def _rounds(self) -> None:
        """The timer thread: a round every `interval` (apart from the runs, so a slow run or a
        slow channel renewal delays neither)."""
        next_round = self.clock() + self.interval
        while not self._stop.wait(timeout=max(0.01, min(1.0, next_round - self.clock()))):
            if self.clock() >= next_round:
                next_round = self.clock() + self.interval
                self.round()

    def _work(self) -> None:
        """A worker thread: takes the next request that may run, runs it, and so on."""
        while not self._stop.is_set():
            with self._cond:
                job = self._queue.take(self.clock())
                if job is None:
                    due = self._queue.next_due
                    # Requests held back (account running, provider full) wake us when a run ends.
                    self._cond.wait(timeout=max(0.01, min(1.0, due - self.clock())) if due is not None else 1.0)
                    continue
            self._run_taken(job)

    def _run_taken(self, job: tuple[int, str]) -> None:
        try:
            self._safe(lambda: self._run(*job))
        finally:
            with self._cond:
                self._queue.done(job[0])
                self._cond.notify_all()

    def _safe(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            log.exception("sync runner step failed")

    def _run(self, account_id: int, reason: str) -> None:
        summary = self.engine.run(account_id, trigger=reason)
        with self._cond:
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
        delay = poll_delay(self.context.sessions, self.context.box, account_id, self.poll, self.clock())
        if delay is not None:
            self.request_sync(account_id, "poll", delay=delay)


def install(app: FastAPI, context: AppContext) -> None:
    """Starts the embedded runner with the app when `CALSYNC_RUNNER=embedded` (the default)."""
    engine_for(context)
    if context.settings.runner != "embedded":
        return
    runner = EmbeddedRunner(context)
    context.extras["runner"] = runner
    context.extras.setdefault("startup", []).append(runner.start)
    context.extras.setdefault("shutdown", []).append(runner.stop)
