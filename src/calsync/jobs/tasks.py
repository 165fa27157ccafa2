"""The Celery tasks a `calsync worker` runs. The work itself is in `Work` (plain code, testable
without a broker); the tasks only find the process's one `Work` and call it.

`calsync.sync_account(account_id, reason)`: one run of the account (waiting briefly for the run
lease when another worker's run is just ending), then the same follow-up as the embedded runner
(jobs/outcome.py) as a request on the shared queue (jobs/queue.py), with failures in a row
counted in Redis (the retry may run on another worker). After a good run the account's push
channel is opened if it has none, and an account that cannot push gets its next poll slot.
`calsync.renew_channels`: the push channels that expire soon are renewed (the scheduler sends it
once per round)."""

from __future__ import annotations

import logging
import random
import threading
import time

from celery import Celery

from calsync.config import Settings, get_settings
from calsync.jobs.celery_app import RENEW_CHANNELS, SYNC_ACCOUNT
from calsync.jobs.outcome import counts_as_failure, follow_up
from calsync.jobs.polling import poll_delay
from calsync.jobs.queue import STICKY, QueuedScheduler
from calsync.sync.engine import SyncEngine
from calsync.sync.summary import RunSummary
from calsync.web.context import AppContext

log = logging.getLogger("calsync.jobs")
# How long a task waits for the lease of another run of the same account before it reports busy
# (and asks again a second later): covers the end of a run without holding a thread for long.
LEASE_WAIT = 15.0


class Work:
    """What a worker process does for its tasks (one per process, shared by its threads)."""

    def __init__(self, context: AppContext, queue: QueuedScheduler, engine: SyncEngine | None = None, *,
                 retry_base: float = 5.0, rng: random.Random | None = None, lease_wait: float = LEASE_WAIT) -> None:
        from calsync.jobs.push import Channels
        from calsync.jobs.runner import engine_for

        self.context, self.queue = context, queue
        context.extras["runner"] = queue  # anything that requests a sync from here enqueues it
        self.engine = engine or engine_for(context)
        self.retry_base, self.rng, self.lease_wait = retry_base, rng, lease_wait
        self.channels = Channels(context)

    def sync_account(self, account_id: int, reason: str) -> RunSummary:
        try:
            summary = self.engine.run(account_id, trigger=reason, full=reason == STICKY, wait=self.lease_wait)
        except Exception as exc:  # the database went away mid-run, a bug: retried with backoff like a failed run
            log.exception("sync of account %s failed", account_id)
            summary = RunSummary(account_id, status="retry", message=f"the sync stopped unexpectedly: {exc}")
        failures = 0
        if counts_as_failure(summary):
            failures = self.queue.failed(account_id)
        elif summary.status != "busy":
            self.queue.succeeded(account_id)
        follow = follow_up(summary, failures, retry_base=self.retry_base, rng=self.rng)
        if follow is not None:
            self.queue.request_sync(account_id, reason if follow.reason == "busy" else follow.reason, delay=follow.delay)
        if summary.status == "ok":
            self._safe(lambda: self.channels.ensure(account_id))
            self._safe(lambda: self._plan_poll(account_id))
        log.info("account %s (%s): %s", account_id, reason, summary.status)
        return summary

    def renew_channels(self) -> None:
        self.channels.renew_due()

    def _plan_poll(self, account_id: int) -> None:
        """After a good run of an account that cannot push: its next poll, at its own slot."""
        delay = poll_delay(self.context.sessions, self.context.box, account_id, float(self.context.settings.caldav_poll_seconds), time.time())
        if delay is not None:
            self.queue.request_sync(account_id, "poll", delay=delay)

    @staticmethod
    def _safe(action: "object") -> None:
        try:
            action()  # type: ignore[operator]
        except Exception:
            log.exception("after-run step failed")


_work: Work | None = None
_lock = threading.Lock()


def work(settings: Settings | None = None) -> Work:
    """The process's one Work, built on first use (after the worker has forked, if it does)."""
    global _work
    with _lock:
        if _work is None:
            settings = settings or get_settings()
            _work = Work(AppContext.build(settings), QueuedScheduler.from_url(settings.broker_url))
        return _work


def register(app: Celery) -> None:
    """Registers the tasks on the worker's app."""

    @app.task(name=SYNC_ACCOUNT)
    def sync_account(account_id: int, reason: str = "schedule") -> str:
        return work().sync_account(int(account_id), str(reason)).status

    @app.task(name=RENEW_CHANNELS)
    def renew_channels() -> None:
        work().renew_channels()
