"""The scale-out pieces in one process against a real Redis: the shared queue (coalescing,
atomic pops), what a worker does after a run (retries back off, auth errors stop), and the
scheduler's tick (due requests become tasks, lapsed leases are requested, one scheduler active)."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import update

from calsync.jobs.outcome import MAX_BACKOFF
from calsync.jobs.queue import QueuedScheduler
from calsync.jobs.scheduler import Scheduler
from calsync.jobs.tasks import Work
from calsync.store.tables import SyncAccount
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.sync.harness import Harness

pytestmark = pytest.mark.redis
A = "alice@example.com"


def _url(client: redis.Redis) -> str:
    kwargs = client.get_connection_kwargs()
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs['db']}"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(broker: str) -> redis.Redis:
    return redis.Redis.from_url(broker, decode_responses=True)


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("CALSYNC_TEST_PROVIDERS", "1")  # the in-memory provider (tests/sync/conftest.py does the same)
    context = AppContext.build(_settings(tmp_path, sqlite_url))
    harness = Harness(context)
    harness.user(A)
    yield harness
    context.engine.dispose()


def test_requests_coalesce_to_the_earliest_and_each_due_one_is_popped_once(client: redis.Redis) -> None:
    clock = Clock()
    queue = QueuedScheduler(client, clock=clock)
    queue.request_sync(7, "schedule", delay=300)
    queue.request_sync(7, "change", delay=1)
    queue.request_sync(7, "poll", delay=60)  # later than what is asked already: changes nothing
    assert queue.pending() == {7: (clock.now + 1, "change")}
    queue.request_sync(8, "resync", delay=5)
    queue.request_sync(8, "change", delay=0)  # earlier, but the full resync stays asked for
    assert queue.pending()[8] == (clock.now, "resync")
    assert queue.pop_due() == [(8, "resync")]
    clock.now += 1
    assert queue.pop_due() == [(7, "change")]
    assert queue.pop_due() == [] and queue.pending() == {}
    # two schedulers popping at once never both get one request
    for account in range(200):
        queue.request_sync(account, "schedule")
    got: list[tuple[int, str]] = []

    def pop_all() -> None:
        other = QueuedScheduler(redis.Redis.from_url(_url(client), decode_responses=True),
                                clock=clock)
        for _ in range(40):
            got.extend(other.pop_due(limit=7))

    threads = [threading.Thread(target=pop_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a for a, _ in got) == list(range(200))


def test_failed_runs_back_off_exponentially_and_an_auth_error_stops_retries(h: Harness, client: redis.Redis) -> None:
    account_id = h.connect(A)
    clock = Clock()
    queue = QueuedScheduler(client, clock=clock)
    work = Work(h.context, queue, h.engine, retry_base=5.0, rng=random.Random(4))
    delays = []
    for failures in range(1, 6):
        h.server.fail("5xx", times=1)
        assert work.sync_account(account_id, "change").status == "provider_error"
        due, reason = queue.pending()[account_id]
        assert reason == "retry"
        delays.append(due - clock.now)
        step = min(MAX_BACKOFF, 5.0 * 2 ** (failures - 1))
        assert step / 2 <= delays[-1] <= step  # exponential, jittered within [½, 1] of the step
        client.delete("calsync:due", "calsync:reason")  # the retry is not run: the next failure counts on
    assert work.sync_account(account_id, "retry").status == "ok"
    assert queue.pending() == {} and client.hget("calsync:failures", str(account_id)) is None  # counted anew
    h.server.revoke(A)
    assert work.sync_account(account_id, "change").status == "auth_error"
    assert queue.pending() == {}  # nothing asks for another run
    sent: list[tuple[str, list[object]]] = []
    scheduler = Scheduler(h.context, client, lambda name, args: sent.append((name, args)), clock=clock, interval=300)
    assert scheduler.hold()
    clock.now += 1000
    scheduler.step()
    clock.now += 3  # past the first round's spread
    scheduler.step()
    assert sent == [("calsync.renew_channels", [])]  # the regular round leaves it out as well


def test_the_scheduler_sends_due_requests_as_tasks_and_requests_accounts_whose_lease_lapsed(
        h: Harness, client: redis.Redis) -> None:
    first = h.connect(A)
    h.user("bob@example.com")
    second = h.connect("bob@example.com")
    clock = Clock()
    sent: list[tuple[str, list[object]]] = []
    scheduler = Scheduler(h.context, client, lambda name, args: sent.append((name, args)), clock=clock, interval=300)
    assert scheduler.hold()
    scheduler.step()  # the first round of a newly active scheduler: every account within 3 s
    assert sent == [("calsync.renew_channels", [])]
    clock.now += 3
    scheduler.step()
    assert sorted(sent[1:]) == [("calsync.sync_account", [first, "schedule"]), ("calsync.sync_account", [second, "schedule"])]
    del sent[:]
    QueuedScheduler(client, clock=clock).request_sync(first, "change", delay=2)
    scheduler.step()
    assert sent == []  # not due yet: it waits in Redis, never in the broker
    clock.now += 2
    scheduler.step()
    assert sent == [("calsync.sync_account", [first, "change"])]
    del sent[:]
    with h.session() as s:  # a worker died mid-run: its lease is still owned, and lapsed
        s.execute(update(SyncAccount).where(SyncAccount.id == second).values(
            lease_owner="dead:1:x", lease_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    clock.now += 10
    scheduler.step()
    assert sent == [("calsync.sync_account", [second, "lapsed"])]


def test_one_scheduler_is_active_and_a_standby_takes_over_when_its_lock_lapses(h: Harness, client: redis.Redis) -> None:
    active = Scheduler(h.context, client, lambda *_: None, lock_time=1.0)
    standby = Scheduler(h.context, client, lambda *_: None, lock_time=1.0)
    assert active.hold() and not standby.hold()
    assert active.hold() and not standby.hold()  # renewing keeps it
    client.pexpire("calsync:scheduler", 1)  # the active one died: nothing renews its lock
    threading.Event().wait(0.05)
    assert standby.hold() and not active.hold()
    standby.release()
    assert active.hold()


def test_a_run_that_raises_is_retried_with_backoff_and_a_lost_redis_fails_no_request(
        h: Harness, client: redis.Redis) -> None:
    account_id = h.connect(A)
    clock = Clock()
    queue = QueuedScheduler(client, clock=clock)

    class Broken:
        def run(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("database connection lost")

    work = Work(h.context, queue, Broken(), retry_base=5.0, rng=random.Random(1))  # type: ignore[arg-type]
    assert work.sync_account(account_id, "change").status == "retry"
    due, reason = queue.pending()[account_id]
    assert reason == "retry" and 2.5 <= due - clock.now <= 5.0
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    gone = QueuedScheduler(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)))
    gone.request_sync(account_id, "change")  # logged, not raised: the next round asks again
