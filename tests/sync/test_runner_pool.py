"""The embedded runner's pool: one slow account never holds up the rest (a real Radicale behind a
proxy that holds one account's requests), at most `CALSYNC_PROVIDER_CONCURRENCY` runs of one
provider at once while other providers go ahead, and one account never run by two threads (a
request that arrives during its run runs after it). The limits are observed through the engine
seam: a stand-in engine whose runs last until the test lets them end."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import update

from calsync.jobs.runner import EmbeddedRunner
from calsync.providers.caldav import CalDavProvider
from calsync.store.tables import SyncAccount
from calsync.sync.provider import Window
from calsync.sync.summary import RunSummary
from tests.support.dav_fixtures import radicale  # noqa: F401  (fixture)
from tests.support.dav_proxy import Reply, Request, dav_proxy
from tests.support.harness import DavHarness, make_harness
from tests.sync.harness import Harness
from tests.sync.test_polling import connect
from tests.sync.test_runner_cli import wait_until

A, B = "alice@example.com", "bob@example.com"
EXTERNAL = {"url": "https://cal.example/", "username": "u", "password": "p"}


# ---------------------------------------------------------------- a slow account, on real servers


class HoldingFilter:
    """A calendar server that answers only when the test says so (a slow or hung peer): every
    request waits until `release` is set, at most 30 s."""

    def __init__(self) -> None:
        self.holding = threading.Event()  # a request is waiting for an answer
        self.release = threading.Event()

    def __call__(self, request: Request, forward: Callable[[], Reply]) -> Reply:
        if not self.release.is_set():
            self.holding.set()
            self.release.wait(30)
        return forward()


def _listed(dav: DavHarness) -> list[str]:
    now = dt.datetime.now(dt.timezone.utc)
    changes = dav.provider.list_changes(dav.calendar_id, None, Window(now - dt.timedelta(days=1), now + dt.timedelta(days=30)))
    return sorted(e.summary for e in changes.events)


@pytest.fixture
def two_calendars(radicale: Any) -> Iterator[tuple[DavHarness, DavHarness]]:  # noqa: F811
    sides = [make_harness("radicale", {"radicale": radicale}) for _ in range(2)]
    yield sides[0], sides[1]  # type: ignore[misc]
    for side in sides:
        side.close()


def test_a_slow_account_does_not_delay_another_accounts_crm_change(
        h: Harness, two_calendars: tuple[DavHarness, DavHarness]) -> None:
    slow_dav, fast_dav = two_calendars
    h.user(B)
    hold = HoldingFilter()
    hold.release.set()  # answers at once while both accounts make their first sync
    with dav_proxy(slow_dav.server.url, hold) as proxy:
        roots = {h.connect(A): proxy.url, h.connect(B): fast_dav.server.url}
        calendars = {A: proxy.base(slow_dav.calendar_id), B: fast_dav.calendar_id}
        with h.session() as s:
            for email, calendar in calendars.items():
                s.execute(update(SyncAccount).where(SyncAccount.user_id == h.users[email]).values(provider="caldav", calendar_id=calendar))
        password = slow_dav.server.users.get(slow_dav.user) if slow_dav.server.users else None
        h.engine.opener = lambda account: CalDavProvider(roots[account.id], slow_dav.user if password else None, password)
        assert h.sync(A).status == "ok" and h.sync(B).status == "ok"

        runner = EmbeddedRunner(h.context, h.engine, interval=3600, poll=3600, debounce=0.3)  # CALSYNC_RUNNER_THREADS: 4
        hold.release.clear()  # from now on alice's server answers only when the test says so
        runner.start()
        try:
            slow = h.account(A).id
            runner.request_sync(slow, "manual")
            assert hold.holding.wait(10)  # alice's run is waiting for her server
            h.create(B, "Call Bob")  # an API write: announced to the runner
            assert wait_until(lambda: _listed(fast_dav) == ["Call Bob"], timeout=2.0)  # within 2 s
            assert not any(s.account_id == slow for s in runner.history)  # alice's run is still going
            assert slow in runner.running()
            hold.release.set()
            assert wait_until(lambda: any(s.account_id == slow and s.status == "ok" for s in runner.history))
        finally:
            hold.release.set()
            runner.stop()


# ---------------------------------------------------------------- the engine seam


class GateEngine:
    """Stands in for the engine: a run lasts until the test opens its account's gate; it notes
    which runs started and how many ran at once, per account and per provider."""

    def __init__(self, providers: dict[int, str]) -> None:
        self.providers = providers
        self.changed = threading.Condition()
        self.started: list[tuple[int, str]] = []
        self.finished: list[int] = []
        self.running: Counter[int] = Counter()
        self.per_provider: Counter[str] = Counter()
        self.peak_account: Counter[int] = Counter()
        self.peak_provider: Counter[str] = Counter()
        self.gates: defaultdict[int, threading.Event] = defaultdict(threading.Event)

    def run(self, account_id: int, trigger: str = "") -> RunSummary:
        provider = self.providers[account_id]
        with self.changed:
            self.started.append((account_id, trigger))
            self.running[account_id] += 1
            self.per_provider[provider] += 1
            self.peak_account[account_id] = max(self.peak_account[account_id], self.running[account_id])
            self.peak_provider[provider] = max(self.peak_provider[provider], self.per_provider[provider])
            self.changed.notify_all()
        opened = self.gates[account_id].wait(20)
        with self.changed:
            self.running[account_id] -= 1
            self.per_provider[provider] -= 1
            self.finished.append(account_id)
            self.changed.notify_all()
        return RunSummary(account_id, status="ok" if opened else "paused")

    def wait_for(self, check: Callable[[], bool], timeout: float = 10.0) -> bool:
        """True once `check()` holds (looked at after every start and end of a run), False at the deadline."""
        with self.changed:
            return self.changed.wait_for(check, timeout)

    def runs(self, account_id: int) -> int:
        return sum(1 for a, _ in self.started if a == account_id)

    def open_all(self) -> None:
        for account_id in self.providers:
            self.gates[account_id].set()


@contextmanager
def pool(h: Harness) -> Iterator[tuple[GateEngine, EmbeddedRunner]]:
    """A started runner (threads and limits from the settings) on the stand-in engine; accounts
    are connected after the start, so only the test's requests run."""
    engine = GateEngine({})
    runner = EmbeddedRunner(h.context, engine, interval=3600, poll=3600)  # type: ignore[arg-type]
    runner.start()
    try:
        yield engine, runner
    finally:
        engine.open_all()
        runner.stop()


def _account(h: Harness, engine: GateEngine, email: str, provider: str) -> int:
    account_id = connect(h, email, provider, EXTERNAL if provider == "caldav" else {"refresh_token": "t"})
    engine.providers[account_id] = provider
    return account_id


def test_a_provider_at_its_limit_waits_while_other_providers_go_ahead(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h.context.settings, "provider_concurrency", "caldav=1,google=4")
    with pool(h) as (engine, runner):
        dav1, dav2 = _account(h, engine, "c1@example.com", "caldav"), _account(h, engine, "c2@example.com", "caldav")
        g1, g2 = _account(h, engine, "g1@example.com", "google"), _account(h, engine, "g2@example.com", "google")
        for account_id in (dav1, dav2, g1):
            runner.request_sync(account_id, "manual")
        assert engine.wait_for(lambda: engine.running[g1] == 1 and engine.per_provider["caldav"] == 1)
        first = dav1 if engine.running[dav1] else dav2
        second = dav2 if first == dav1 else dav1
        # A request due later than the waiting CalDAV account's, of another provider: a free
        # thread takes it, so the CalDAV account was passed over while threads were free.
        runner.request_sync(g2, "manual")
        assert engine.wait_for(lambda: engine.running[g2] == 1)
        assert engine.runs(second) == 0
        engine.gates[first].set()
        assert engine.wait_for(lambda: engine.running[second] == 1)  # its turn once the first ended
        assert engine.running[first] == 0 and engine.running[g1] == 1  # Google ran alongside both
        engine.open_all()
        assert engine.wait_for(lambda: len(engine.finished) == 4)
    assert engine.peak_provider == Counter({"caldav": 1, "google": 2})


def test_one_account_is_never_run_by_two_threads_and_a_request_during_its_run_runs_after_it(h: Harness) -> None:
    with pool(h) as (engine, runner):
        busy, other = _account(h, engine, "c1@example.com", "caldav"), _account(h, engine, "g1@example.com", "google")
        runner.request_sync(busy, "manual")
        assert engine.wait_for(lambda: engine.running[busy] == 1)
        runner.request_sync(busy, "change")  # arrives during its run
        engine.gates[other].set()
        runner.request_sync(other, "manual")  # due after it: a free thread runs this one, not the second run
        assert engine.wait_for(lambda: other in engine.finished)
        assert engine.runs(busy) == 1 and engine.running[busy] == 1
        engine.gates[busy].set()
        assert engine.wait_for(lambda: engine.finished.count(busy) == 2)
        assert [trigger for a, trigger in engine.started if a == busy] == ["manual", "change"]
    assert engine.peak_account[busy] == 1
