"""A web process in scale-out mode (`CALSYNC_BROKER_URL` set): its `SyncScheduler` is the shared
queue (jobs/queue.py) and it runs no syncs itself. A CRM change of a synced user's activity asks
for a sync a moment later (debounced, as the embedded runner does); "sync now" with `wait=true`
asks for one and waits for a worker's run to finish (`wait_for_run`)."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from sqlalchemy import select

from calsync.crm.services import changes
from calsync.jobs import ratelimit
from calsync.jobs.queue import QueuedScheduler
from calsync.providers import gate
from calsync.store.tables import SyncAccount, SyncRun
from calsync.sync.summary import RunSummary
from calsync.web.context import AppContext

log = logging.getLogger("calsync.jobs")
WAIT_POLL = 0.25
# Outcomes the engine reports without recording a run: the account's state says them.
_UNRECORDED = {"auth_error": "reconnect the calendar", "needs_confirmation": None}


def queued(context: AppContext) -> bool:
    """True when this app only enqueues (scale-out): no web path may run a sync itself."""
    return bool(context.settings.broker_url)


class ChangeListener:
    """CRM changes → a debounced request of the owner's account on the shared queue."""

    def __init__(self, context: AppContext, queue: QueuedScheduler) -> None:
        self.context, self.queue = context, queue

    def __call__(self, owner_id: int, activity_id: int) -> None:
        try:
            session = self.context.sessions()
            try:
                account_id = session.scalar(select(SyncAccount.id).where(
                    SyncAccount.user_id == owner_id, SyncAccount.enabled.is_(True)))
            finally:
                session.close()
            if account_id is not None:
                self.queue.request_sync(account_id, "change", delay=self.context.settings.sync_debounce_seconds)
        except Exception:  # the listener must never break the CRM write that announced it
            log.exception("could not request a sync for the change of user %s", owner_id)


def latest_run(context: AppContext, account_id: int) -> int:
    session = context.sessions()
    try:
        return int(session.scalar(select(SyncRun.id).where(SyncRun.account_id == account_id)
                                  .order_by(SyncRun.id.desc()).limit(1)) or 0)
    finally:
        session.close()


def wait_for_run(context: AppContext, account_id: int, after: int, timeout: float) -> RunSummary:
    """The first run of the account after run id `after` once it has finished (a worker ran it);
    an account that cannot run (stopped, waiting for a reconnect or a decision) says so at once;
    "busy" when no run finished within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        session = context.sessions()
        try:
            run = session.scalars(select(SyncRun).where(SyncRun.account_id == account_id, SyncRun.id > after,
                                                        SyncRun.status != "running").order_by(SyncRun.id).limit(1)).first()
            if run is not None:
                return RunSummary(account_id, status=run.status, pulled=run.pulled, pushed=run.pushed,
                                  deleted=run.deleted, conflicts=run.conflicts, skipped=run.skipped,
                                  errors=sum(1 for e in run.entries or [] if e.get("kind") == "error"),
                                  message=run.error, run_id=run.id, entries=list(run.entries or []))
            account = session.get(SyncAccount, account_id)
            if account is None:
                return RunSummary(account_id, status="missing", message="there is no such calendar connection")
            if not account.enabled:
                return RunSummary(account_id, status="paused", message="sync is stopped: start it to sync again")
            if account.state in _UNRECORDED and not session.scalar(select(SyncRun.id).where(
                    SyncRun.account_id == account_id, SyncRun.id > after)):
                return RunSummary(account_id, status=account.state,
                                  message=account.last_error or _UNRECORDED[account.state])
        finally:
            session.close()
        if time.monotonic() >= deadline:
            return RunSummary(account_id, status="busy", message="the sync was queued; it has not finished yet")
        time.sleep(WAIT_POLL)


def install(app: FastAPI, context: AppContext) -> None:
    queue = QueuedScheduler.from_url(context.settings.broker_url)
    context.extras["runner"] = queue
    listener = ChangeListener(context, queue)
    context.extras.setdefault("startup", []).append(lambda: changes.subscribe(listener))
    context.extras.setdefault("shutdown", []).append(lambda: changes.unsubscribe(listener))
    # The web's own provider requests (connect, calendar lists, stopping channels) count against
    # the limits the workers share.
    context.extras["startup"].append(lambda: ratelimit.install(context.settings))
    context.extras["shutdown"].append(lambda: gate.set_gate(None))
