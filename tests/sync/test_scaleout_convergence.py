"""Many accounts on PostgreSQL, spread over the Google emulator, the Graph emulator and a real
Radicale: rounds of random changes on both sides (tests/support/convergence.py), syncs requested
for every account, and after each round both sides of every account must match the model:
every activity has exactly one event and every event one activity (zero duplicates), every last
edit is there on both sides (zero lost edits; the newer edit where both sides edited one item),
nothing deleted comes back."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from sqlalchemy import select

from calsync.config import Settings, get_settings
from calsync.crm.services import changes
from calsync.emulators.google import EmulatorConfig as GoogleConfig
from calsync.emulators.microsoft import EmulatorConfig as MicrosoftConfig
from calsync.jobs.outcome import counts_as_failure, follow_up
from calsync.jobs.queue import QueuedScheduler
from calsync.jobs.queued import ChangeListener
from calsync.jobs.runner import engine_for
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.store.tables import SyncRun
from calsync.sync import registry
from calsync.web.context import AppContext
from calsync.web.oauth import new_pkce
from tests.support.convergence import (Account, Plan, Seen, Workload, add_users, connect, problems_of,
                                       wait_until_converged)
from tests.support.convergence_sides import GoogleSide, Listed, MicrosoftSide, RadicaleSide
from tests.support.google_emulator import GoogleEmulator, google_emulator
from tests.support.microsoft_emulator import MicrosoftEmulator, microsoft_emulator
from tests.support.postgres import create_database
from tests.support.radicale import DavServer, radicale_server
from tests.support.scaleout import ScaleOut

ACCOUNTS = int(os.environ.get("CALSYNC_CONVERGENCE_ACCOUNTS", "200"))  # on the workers
IN_PROCESS_ACCOUNTS = int(os.environ.get("CALSYNC_CONVERGENCE_IN_PROCESS_ACCOUNTS", "60"))
SEED = int(os.environ.get("CALSYNC_CONVERGENCE_SEED", "1401"))
KINDS = ("google", "microsoft", "caldav")
POLL = 1.0  # seconds between two looks while waiting for the workers
CONVERGE_WITHIN = 120.0  # seconds per round, from the sync requests to both sides matching the model


def _kind(i: int) -> str:
    return KINDS[i % 3]


def _email(i: int) -> str:
    return f"{_kind(i)[0]}{i:03d}@example.com"


@dataclass
class Fleet:
    context: AppContext
    accounts: list[Account]
    env: dict[str, str]
    google: GoogleEmulator
    microsoft: MicrosoftEmulator
    radicale: DavServer


@pytest.fixture
def fleet_size() -> int:
    return ACCOUNTS


@pytest.fixture
def servers(fleet_size: int) -> Iterator[tuple[GoogleEmulator, MicrosoftEmulator, DavServer]]:
    emails = [_email(i) for i in range(fleet_size)]
    google_users = [e for e in emails if e.startswith("g")] or ["nobody@example.com"]
    microsoft_users = [e for e in emails if e.startswith("m")] or ["nobody@example.com"]
    dav_users = {e.split("@")[0]: f"pw-{e.split('@')[0]}" for e in emails if e.startswith("c")} or {"x": "y"}
    with google_emulator(GoogleConfig(users=google_users)) as google, \
            microsoft_emulator(MicrosoftConfig(users=microsoft_users)) as microsoft, \
            radicale_server(dav_users) as radicale:
        yield google, microsoft, radicale


@pytest.fixture
def fleet(servers: tuple[GoogleEmulator, MicrosoftEmulator, DavServer], postgres_admin_url: str,
          tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fleet_size: int) -> Iterator[Fleet]:
    """The accounts connected as users connect them (OAuth consent on the emulators, CalDAV
    discovery on Radicale); the settings live in CALSYNC_* variables, as a worker process gets them."""
    google, microsoft, radicale = servers
    url = create_database(postgres_admin_url, f"converge_{os.getpid()}_{time.monotonic_ns()}")
    migrate.upgrade(url)
    env = {
        "CALSYNC_DATABASE_URL": url, "CALSYNC_SECRET_KEY": "convergence-secret", "CALSYNC_VAR_DIR": str(tmp_path / "var"),
        "CALSYNC_EMBEDDED_DAV": "false", "CALSYNC_RUNNER": "none", "CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS": "true",
        "CALSYNC_GOOGLE_CLIENT_ID": google.config.client_id, "CALSYNC_GOOGLE_CLIENT_SECRET": google.config.client_secret,
        "CALSYNC_GOOGLE_API_URL": google.base, "CALSYNC_GOOGLE_AUTH_URL": google.base + "/o/oauth2/v2/auth",
        "CALSYNC_GOOGLE_TOKEN_URL": google.base + "/token",
        "CALSYNC_MICROSOFT_CLIENT_ID": microsoft.config.client_id,
        "CALSYNC_MICROSOFT_CLIENT_SECRET": microsoft.config.client_secret,
        "CALSYNC_MICROSOFT_GRAPH_URL": microsoft.base, "CALSYNC_MICROSOFT_LOGIN_URL": microsoft.base,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    context = AppContext.build(Settings())
    accounts: list[Account] = []
    try:
        started = time.monotonic()
        accounts = _connect_all(context, google, microsoft, radicale, fleet_size)
        print(f"\nconnected {len(accounts)} accounts in {time.monotonic() - started:.1f} s")
        yield Fleet(context, accounts, env, google, microsoft, radicale)
    finally:
        for account in accounts:
            account.side.close()
        context.engine.dispose()
        get_settings.cache_clear()


def _oauth_params(provider: str, emulator: Any, email: str) -> dict[str, str]:
    state, verifier = new_pkce()
    location = emulator.consent(registry.get(provider).oauth().authorization_url(state, verifier), email)
    return {"code": parse_qs(urlsplit(location).query)["code"][0], "code_verifier": verifier}


def _connect_all(context: AppContext, google: GoogleEmulator, microsoft: MicrosoftEmulator,
                 radicale: DavServer, size: int) -> list[Account]:
    emails = [_email(i) for i in range(size)]
    user_ids = add_users(context, emails)

    def one(i: int) -> Account:
        email, kind = emails[i], _kind(i)
        side: Any
        if kind == "caldav":
            name = email.split("@")[0]
            calendar = radicale.make_calendar(name, "work")
            account_id, _ = connect(context, user_ids[email], "caldav", {
                "url": radicale.url, "username": name, "password": radicale.users[name], "calendar": calendar})
            side = RadicaleSide(radicale, name, calendar)
        elif kind == "google":
            account_id, calendar_id = connect(context, user_ids[email], "google", _oauth_params("google", google, email))
            side = GoogleSide(google, email, calendar_id)
        else:
            account_id, calendar_id = connect(context, user_ids[email], "microsoft",
                                              _oauth_params("microsoft", microsoft, email))
            side = MicrosoftSide(microsoft, email, calendar_id)
        return Account(i, kind, email, user_ids[email], account_id, side)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(size)))


# ---------------------------------------------------------------------- syncs run in this process
def _sync_in_process(context: AppContext, accounts: list[Account], threads: int = 4) -> Counter[str]:
    """What the embedded runner does with "sync now" for every account: a run, and the run its
    outcome asks for next (jobs/outcome.py), in a few threads."""
    engine = engine_for(context)

    def one(account: Account) -> str:
        failures = 0
        for _ in range(8):
            summary = engine.run(account.account_id, trigger="change", wait=30)
            failures = failures + 1 if counts_as_failure(summary) else 0
            again = follow_up(summary, failures, retry_base=0.2)
            if again is None:
                return summary.status
            time.sleep(min(again.delay, 2.0))  # the runner's backoff, shortened
        return summary.status

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(one, accounts))


def _round(fleet: Fleet, workload: Workload, plans: list[Plan], sync: Any, label: str, *,
           deadline: float = 0.0, between: Any = lambda: None) -> None:
    started = time.monotonic()
    workload.apply(plans)
    changed = time.monotonic()
    statuses = sync(fleet.accounts)
    synced = time.monotonic()
    settled, seen = wait_until_converged(fleet.context, plans, deadline=deadline, between=between)
    workload.settle_model(plans, seen)
    items = sum(len(a.items) for a in fleet.accounts)
    print(f"{label}: changes {changed - started:.1f} s, syncs {synced - changed:.1f} s ({dict(statuses)}), "
          f"converged after {settled.polls} check(s) in {settled.seconds:.1f} s; {items} items")


@pytest.mark.postgres
@pytest.mark.parametrize("fleet_size", [IN_PROCESS_ACCOUNTS])
def test_accounts_converge_with_syncs_in_this_process(fleet: Fleet) -> None:
    """The workload and its checker on the engine alone: each round's syncs run here, a few at once."""
    workload = Workload(fleet.context, fleet.accounts, SEED)
    sync = lambda accounts: _sync_in_process(fleet.context, accounts)  # noqa: E731
    _round(fleet, workload, workload.first_round(), sync, "first sync")
    for n in (1, 2):
        _round(fleet, workload, workload.change_round(), sync, f"round {n}")
    print(f"changes made: {dict(workload.counts)}")


# ---------------------------------------------------------------------- two calsync workers
def _finished_since(context: AppContext, accounts: list[Account], since: dt.datetime) -> int:
    """How many of the accounts have a run that started at `since` or later and has ended."""
    with session_scope(context.sessions) as s:
        done = s.scalars(select(SyncRun.account_id).where(
            SyncRun.account_id.in_([a.account_id for a in accounts]), SyncRun.started_at >= since,
            SyncRun.finished_at.is_not(None)).distinct()).all()
    return len(done)


def _runs_per_worker(cluster: ScaleOut) -> list[int]:
    """Runs each worker logged ("account 12 (change): ok")."""
    return [len(re.findall(r"account \d+ \([^)]*\): \w+", p.log())) for p in cluster.processes if p.kind == "worker"]


def _pause() -> None:
    threading.Event().wait(POLL)  # between two looks at the database and the calendars


@pytest.mark.postgres
@pytest.mark.redis
def test_many_accounts_converge_on_two_workers(fleet: Fleet, redis_url: str, tmp_path: Path) -> None:
    """The same rounds with the syncs on two `calsync worker` processes fed by `calsync scheduler`:
    CRM writes ask for syncs through the web app's change listener (debounced, so some run while a
    round is still changing things), and after each round every account is asked for, as a push
    notification or a poll would; then both sides of every account must match the model."""
    broker = redis_url.rsplit("/", 1)[0] + "/0"
    redis.Redis.from_url(broker).flushdb()
    queue = QueuedScheduler.from_url(broker)
    listener = ChangeListener(fleet.context, queue)
    env = {**fleet.env, "CALSYNC_SYNC_INTERVAL_SECONDS": "3600", "CALSYNC_CALDAV_POLL_SECONDS": "3600"}
    workload = Workload(fleet.context, fleet.accounts, SEED)
    with ScaleOut(fleet.env["CALSYNC_DATABASE_URL"], broker, secret_key=fleet.env["CALSYNC_SECRET_KEY"], env=env,
                  log_dir=tmp_path / "scaleout") as cluster:
        started = time.monotonic()
        workers = [cluster.worker(concurrency=4), cluster.worker(concurrency=4)]
        cluster.scheduler()
        print(f"two workers and the scheduler up in {time.monotonic() - started:.1f} s")
        changes.subscribe(listener)

        def sync(accounts: list[Account]) -> Counter[str]:
            since = dt.datetime.now(dt.timezone.utc)
            for account in accounts:
                queue.request_sync(account.account_id, "change")
            deadline = time.monotonic() + CONVERGE_WITHIN
            while (done := _finished_since(fleet.context, accounts, since)) < len(accounts):
                assert time.monotonic() < deadline, f"only {done} of {len(accounts)} accounts ran:\n{cluster.logs()}"
                assert all(w.alive() for w in workers), cluster.logs()
                _pause()
            return Counter(ran=len(accounts))

        try:
            for n, plans in enumerate([workload.first_round(), None, None]):
                _round(fleet, workload, plans or workload.change_round(), sync, f"round {n}" if n else "first sync",
                       deadline=CONVERGE_WITHIN, between=_pause)
        finally:
            changes.unsubscribe(listener)
        runs = _runs_per_worker(cluster)
        print(f"changes made: {dict(workload.counts)}; runs per worker: {runs}")
        assert len(runs) == 2 and all(n > 0 for n in runs), f"both workers must have run syncs: {runs}"


# ---------------------------------------------------------------------- the checker itself
def test_the_checker_finds_duplicates_lost_edits_resurrections_and_bad_links() -> None:
    """The model check on hand-made views: what agrees passes, each kind of damage is named."""
    expected = {1: frozenset({"Call 0-1"}), 2: frozenset({"Edited in crm 0-5", "Edited in cal 0-6"})}
    good = Seen(activities=[(10, "Call 0-1"), (11, "Edited in cal 0-6")],
                events=[Listed("e1", "Call 0-1"), Listed("e2", "Edited in cal 0-6")],
                links=[(10, "e1", "linked"), (11, "e2", "linked")])
    assert problems_of(expected, good) == []

    doubled = replace(good, events=good.events + [Listed("e3", "Call 0-1")])
    assert any(p.startswith("duplicate: 2 events titled 'Call 0-1'") for p in problems_of(expected, doubled))
    assert "event e3 has 0 links" in problems_of(expected, doubled)

    lost = replace(good, events=[Listed("e1", "Call 0-1"), Listed("e2", "Meeting 0-2")])
    assert any(p.startswith("item 2: expected one of") for p in problems_of(expected, lost))
    assert "event 'Meeting 0-2' is not in the model (stale edit or resurrected)" in problems_of(expected, lost)

    halves = replace(good, events=[Listed("e1", "Call 0-1"), Listed("e2", "Edited in crm 0-5")])
    assert any("CRM has ['Edited in cal 0-6'], calendar has ['Edited in crm 0-5']" in p
               for p in problems_of(expected, halves))

    back = replace(good, activities=good.activities + [(12, "Call 0-9")], links=good.links + [(12, "e9", "linked")])
    assert "activity 'Call 0-9' is not in the model (stale edit or resurrected)" in problems_of(expected, back)
    assert "link to a gone activity 12 / event e9" in problems_of(expected, back)

    unlinked = replace(good, links=[(10, "e1", "linked"), (11, "e2", "error")])
    assert {"activity 11 has 0 links", "link 11/e2 in state error"} <= set(problems_of(expected, unlinked))
