"""Two engines (as in the app's runner and `calsync sync`, separate processes on one database)
never sync one account at once: the second gets "busy", or waits when asked to."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from typing import Any

from sqlalchemy import update

from calsync.store.tables import SyncAccount
from calsync.sync.engine import SyncEngine
from calsync.sync.lease import Lease
from calsync.web.context import AppContext
from tests.sync.harness import Harness

A = "alice@example.com"


def _blocking_engine(h: Harness, entered: threading.Event, release: threading.Event) -> SyncEngine:
    """An engine of its own (its own in-process locks) whose provider stalls in the listing."""

    def opener(account: SyncAccount) -> Any:
        provider = h.factory.open({"account": account.account_name})
        real = provider.list_changes

        def stalled(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            release.wait(20)
            return real(*args, **kwargs)

        provider.list_changes = stalled  # type: ignore[method-assign]
        return provider

    return SyncEngine(h.context.sessions, opener)


def test_a_second_engine_is_told_busy_then_may_wait(h: Harness) -> None:
    account_id = h.connect(A)
    h.create(A, "Call")
    entered, release = threading.Event(), threading.Event()
    first = _blocking_engine(h, entered, release)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(first.run(account_id)))
    worker.start()
    assert entered.wait(10)
    second = h.engine  # another engine object: only the database lease stands between them
    busy = second.run(account_id)
    assert busy.status == "busy" and busy.message == "a sync of this account is already running"
    waiter: list[Any] = []
    waiting = threading.Thread(target=lambda: waiter.append(second.run(account_id, wait=15)))
    waiting.start()
    time.sleep(0.6)
    assert waiter == []  # still waiting for the first run
    release.set()
    worker.join(20)
    waiting.join(20)
    assert results[0].status == "ok" and results[0].pushed == 1
    assert waiter[0].status == "ok" and waiter[0].writes == 0
    with h.session() as s:
        account = s.get(SyncAccount, account_id)
        assert account is not None and account.lease_owner is None and account.lease_until is None


def test_the_lease_holds_across_processes_and_an_expired_one_is_taken(h: Harness, sync_context: AppContext) -> None:
    account_id = h.connect(A)
    url = sync_context.settings.database_url
    script = (
        "import sys; from calsync.store.db import make_engine, make_session_factory; from calsync.sync.lease import Lease\n"
        f"lease = Lease(make_session_factory(make_engine({url!r})), {account_id})\n"
        "print('taken' if lease.take() else 'busy', flush=True)\n"
        "sys.stdin.readline()\n"
        "lease.release()\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "taken"
        assert not Lease(sync_context.sessions, account_id).take()
        assert h.sync(A).status == "busy"
        other.communicate("done\n", timeout=20)
    finally:
        if other.poll() is None:
            other.kill()
    assert h.sync(A).status == "ok"
    # a process that died holding the lease: it expires and the next run takes it
    with h.session() as s:
        s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(
            lease_owner="dead:1:x", lease_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert h.sync(A).status == "ok"


def test_a_live_run_keeps_its_lease_past_the_lease_time_and_a_released_lease_stays_free(
        h: Harness, monkeypatch: Any) -> None:
    """The heartbeat renews while the run is stuck in one slow provider request, so another
    process never takes over a live run; once released, nothing renews it any more."""
    from calsync.sync import lease as lease_module

    monkeypatch.setattr(lease_module, "LEASE_TIME", dt.timedelta(seconds=1.5))
    monkeypatch.setattr(lease_module, "HEARTBEAT", 0.3)
    account_id = h.connect(A)
    h.create(A, "Call")
    entered, release = threading.Event(), threading.Event()
    first = _blocking_engine(h, entered, release)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(first.run(account_id)))
    worker.start()
    try:
        assert entered.wait(10)
        time.sleep(3.0)  # twice the lease time, stuck in one request: the lease must still hold
        assert h.engine.run(account_id).status == "busy"
    finally:
        release.set()
        worker.join(20)
    assert results[0].status == "ok"
    time.sleep(0.7)  # two heartbeats: a stopped heartbeat writes nothing
    with h.session() as s:
        account = s.get(SyncAccount, account_id)
        assert account is not None and account.lease_owner is None and account.lease_until is None


def test_a_run_whose_lease_was_taken_over_stops_at_its_next_step(h: Harness, monkeypatch: Any) -> None:
    """A process frozen past its lease's expiry (and taken over) must not write beside the new run."""
    import pytest

    from calsync.sync import lease as lease_module

    monkeypatch.setattr(lease_module, "HEARTBEAT", 0.2)
    account_id = h.connect(A)
    lease = Lease(h.context.sessions, account_id)
    assert lease.take()
    assert lease.renew() is True
    with h.session() as s:  # another process took it over after it lapsed
        s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(lease_owner="other:2:y"))
    deadline = time.monotonic() + 5
    while not lease.lost and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lease.lost  # the heartbeat noticed
    with pytest.raises(lease_module.LeaseLost):
        lease.renew()
    lease.release()
    with h.session() as s:
        account = s.get(SyncAccount, account_id)
        assert account is not None and account.lease_owner == "other:2:y"  # the other's lease stays
