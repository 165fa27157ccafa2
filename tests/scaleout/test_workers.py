"""Two `calsync worker` processes and `calsync scheduler` on a real PostgreSQL and Redis, syncing
a real Radicale (behind tests/support/dav_proxy.py, which makes its answers slow and watches for
two runs of one account at once)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from sqlalchemy import select

from calsync.jobs.celery_app import QUEUE, SYNC_ACCOUNT, make_app
from calsync.jobs.queue import QueuedScheduler
from calsync.store.db import session_scope
from calsync.store.tables import SyncAccount, SyncRun, User
from calsync.sync import accounts as sync_accounts
from calsync.sync.engine import ORPHANED
from calsync.web.context import AppContext
from tests.scaleout.dav import eventually, titles
from tests.support.dav_proxy import Reply, Request, dav_proxy
from tests.support.radicale import DavServer
from tests.support.scaleout import ScaleOut
from tests.sync.harness import Harness

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class SlowServer:
    """A filter: every request to the calendar server takes `delay` seconds (PUTs `put_delay`),
    and the most requests of one user in flight at once are counted (one run sends one at a time)."""

    def __init__(self, delay: float = 0.05, put_delay: float = 0.3) -> None:
        self.delay, self.put_delay = delay, put_delay
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}

    def __call__(self, request: Request, forward: Callable[[], Reply]) -> Reply:
        user = request.path.strip("/").split("/")[0]
        with self.lock:
            self.in_flight[user] = self.in_flight.get(user, 0) + 1
            self.most[user] = max(self.most.get(user, 0), self.in_flight[user])
        try:
            time.sleep(self.put_delay if request.method == "PUT" else self.delay)
            return forward()
        finally:
            with self.lock:
                self.in_flight[user] -= 1


@contextmanager
def slow_dav(dav: DavServer) -> Iterator[tuple[Any, SlowServer]]:
    slow = SlowServer()
    with dav_proxy(dav.url, slow) as proxy:
        yield proxy, slow


def connect(h: Harness, email: str, proxy: Any, dav_user: str, dav: DavServer) -> int:
    dav.make_calendar(dav_user, "work")
    with h.session() as s:
        user = s.get(User, h.users[email])
        return sync_accounts.connect(s, h.context.box, user, "caldav", {
            "url": proxy.url, "username": dav_user, "password": dav.users[dav_user], "calendar": "work"}).id


def runs(context: AppContext, account_id: int) -> list[SyncRun]:
    with session_scope(context.sessions) as session:
        found = list(session.scalars(select(SyncRun).where(SyncRun.account_id == account_id).order_by(SyncRun.id)))
        session.expunge_all()
        return found


def lease_owner(context: AppContext, account_id: int) -> str | None:
    with session_scope(context.sessions) as session:
        return session.scalar(select(SyncAccount.lease_owner).where(SyncAccount.id == account_id))


def soon(hours: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=hours)


def test_a_worker_killed_mid_sync_is_replaced_within_90_s_and_nothing_is_lost_or_doubled(
        scaled_context: AppContext, dav: DavServer, cluster: ScaleOut) -> None:
    h = Harness(scaled_context)
    h.user("kim@example.com")
    with slow_dav(dav) as (proxy, slow):
        account_id = connect(h, "kim@example.com", proxy, "u2", dav)
        expected = sorted(f"Visit {i:02d}" for i in range(24))
        for i, subject in enumerate(expected):
            h.create("kim@example.com", subject, start=soon(24 + i))
        workers = [cluster.worker(concurrency=2), cluster.worker(concurrency=2)]
        cluster.scheduler()
        QueuedScheduler.from_url(scaled_context.settings.broker_url).request_sync(account_id, "change")
        eventually(lambda: len(titles(dav, "u2", "work")) >= 4, 30, "the sync under way", logs=cluster.logs)
        owner = lease_owner(scaled_context, account_id)
        assert owner is not None
        victim = next(w for w in workers if owner.split(":")[1] == str(w.pid))
        victim.kill()
        killed = time.monotonic()
        written = len(titles(dav, "u2", "work"))
        assert written < len(expected), "the run ended before the kill: make the server slower"

        def finished() -> bool:
            done = [r for r in runs(scaled_context, account_id) if r.status == "ok"]
            return bool(done) and lease_owner(scaled_context, account_id) is None

        eventually(finished, 90, "another worker finishing the account", logs=cluster.logs)
        took = time.monotonic() - killed
        survivor = next(w for w in workers if w is not victim)
        picked = [line for line in survivor.log().splitlines() if f"account {account_id} (" in line]
        print(f"\nkilled after {written} of {len(expected)} events; finished by the other worker {took:.1f} s later:",
              *picked, sep="\n")
        assert took <= 90
        assert sorted(titles(dav, "u2", "work")) == expected  # none lost, none twice
        assert sorted(a.subject for a in h.activities("kim@example.com")) == expected  # nothing came back twice
        history = runs(scaled_context, account_id)
        assert history[0].status != "ok" and history[0].error == ORPHANED  # the cut-off run, closed by the next
        assert all(count == 1 for count in slow.most.values())


def test_two_workers_never_run_one_account_at_once(scaled_context: AppContext, dav: DavServer, cluster: ScaleOut) -> None:
    h = Harness(scaled_context)
    h.user("lou@example.com")
    with slow_dav(dav) as (proxy, slow):
        account_id = connect(h, "lou@example.com", proxy, "u3", dav)
        expected = sorted(f"Review {i}" for i in range(8))
        for i, subject in enumerate(expected):
            h.create("lou@example.com", subject, start=soon(30 + i))
        workers = [cluster.worker(concurrency=3), cluster.worker(concurrency=3)]
        celery = make_app(scaled_context.settings)
        for _ in range(8):  # straight into the broker, bypassing the queue's coalescing: all at once
            celery.send_task(SYNC_ACCOUNT, args=[account_id, "manual"], queue=QUEUE)
        line = f"account {account_id} (manual):"
        eventually(lambda: sum(w.log().count(line) for w in workers) >= 8, 60, "all eight tasks", logs=cluster.logs)
        assert all(line in w.log() for w in workers)  # both workers took some
        assert slow.most["u3"] == 1  # never two requests of this account's runs in flight at once
        finished = [r for r in runs(scaled_context, account_id) if r.finished_at is not None]
        assert len(finished) >= 2
        for earlier, later in zip(finished, finished[1:]):
            assert later.started_at >= earlier.finished_at  # one after the other
        assert sorted(titles(dav, "u3", "work")) == expected


def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_is_killed(
        scaled_settings: Any, cluster: ScaleOut) -> None:
    client = redis.Redis.from_url(scaled_settings.broker_url, decode_responses=True)
    queue = QueuedScheduler(client)

    def holder() -> str:
        return str(client.get("calsync:scheduler") or "")

    first = cluster.scheduler()
    eventually(lambda: f":{first.pid}:" in holder(), 10, "the first scheduler active", logs=cluster.logs)
    second = cluster.scheduler()
    for _ in range(15):  # three seconds: the first keeps the lock, the second stands by
        assert f":{first.pid}:" in holder()
        time.sleep(0.2)
    assert "is active" not in second.log()
    queue.request_sync(991, "change")
    eventually(lambda: not queue.pending(), 5, "the active scheduler taking the request", logs=cluster.logs)
    first.kill()
    killed = time.monotonic()
    eventually(lambda: f":{second.pid}:" in holder(), 15, "the standby taking over", logs=cluster.logs)
    print(f"\nstandby active {time.monotonic() - killed:.1f} s after the kill")
    queue.request_sync(992, "change")
    eventually(lambda: not queue.pending(), 5, "the new active scheduler taking requests", logs=cluster.logs)
    assert client.llen(QUEUE) >= 2  # both requests became tasks (no worker runs them here)
