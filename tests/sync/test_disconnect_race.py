"""A user disconnects while a sync of the account is between its steps (SQLite and PostgreSQL).

Every step of a run reads the account in its own transaction and writes it back later. The
disconnect is slipped in at each point where a step has read but not yet written anything, one
run per point, so every interleaving the runner and the web app can produce is tried in order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services.activities import create_activity
from calsync.providers.memory import DEFAULT_FACTORY, MemoryCalendarServer, MemoryProviderFactory
from calsync.store.db import session_scope
from calsync.store.tables import SyncAccount, SyncRun, User
from calsync.sync import accounts as sync_accounts
from calsync.sync import registry
from calsync.sync.engine import SyncEngine
from calsync.sync.model import Event
from calsync.web.context import AppContext
from tests.conftest import People
from tests.sync.harness import Harness, soon
from tests.sync.write_points import ActAt

A = "alice@example.com"
BASE = "/api/v1/calendar-sync"


@pytest.fixture
def hdb(context: AppContext) -> Harness:
    harness = Harness(context)
    harness.user(A)
    return harness


def disconnect_at(h: Harness, email: str, n: int) -> ActAt:
    """Disconnects the user at the run's n-th write point: the engine holds no lock that the
    disconnect would wait for there."""
    def disconnect() -> None:
        with h.session() as s:
            sync_accounts.disconnect(s, s.get(User, h.users[email]))

    return ActAt(n, disconnect)


def _engine(h: Harness, at: ActAt) -> SyncEngine:
    sessions = sessionmaker(**h.context.sessions.kw)  # same database and options, its own events
    at.install(sessions)
    return SyncEngine(sessions, h.engine.opener)


@pytest.mark.parametrize("calendar_fails", [False, True], ids=["run-ok", "provider-error"])
def test_a_run_whose_account_is_disconnected_midway_ends_quietly_as_missing(hdb: Harness, calendar_fails: bool) -> None:
    h = hdb
    n = 0
    while True:
        n += 1
        assert n < 50, "the run never stopped offering write points"
        h.connect(A)
        account_id = h.account(A).id
        h.create(A, f"Call {n}", start=soon(2))
        h.put_event(A, f"Dentist {n}", start=soon(3))
        if calendar_fails:
            h.server.fail("5xx", method="list_changes")
        at = disconnect_at(h, A, n)
        summary = _engine(h, at).run(account_id)  # raised StaleDataError before the fix
        h.server.clear_faults()
        if not at.fired:
            break
        assert summary.status == "missing" and "calendar connection" in (summary.message or ""), (n, summary)
        with h.session() as s:
            assert s.get(SyncAccount, account_id) is None
            assert s.scalars(select(SyncRun).where(SyncRun.account_id == account_id)).all() == []
    # the points tried: the run's start and finish at least, and with a listing also its commit and writes
    assert n - 1 >= (2 if calendar_fails else 4), n
    assert summary.status == ("provider_error" if calendar_fails else "ok"), summary
    # connected again afterwards, the user syncs normally
    assert h.sync(A).status == "ok"


@pytest.fixture
def server() -> Iterator[MemoryCalendarServer]:
    """A fresh in-memory calendar server behind the "memory" provider for this test."""
    factory = MemoryProviderFactory()
    registry.register(factory)
    yield factory.server
    registry.register(DEFAULT_FACTORY)


@pytest.mark.parametrize("method", ["list_changes", "create_event"])
def test_disconnecting_through_the_api_while_sync_now_runs_answers_both_requests(
        api: httpx.Client, live_url: str, people: People, context: AppContext, server: MemoryCalendarServer,
        method: str) -> None:
    """"Sync now" (which runs in the request) and a disconnect sent from another tab while the
    run waits for the calendar: the disconnect is done, the run reports the connection gone."""
    alice = people.add(A)
    headers = people.headers(A)
    with session_scope(context.sessions) as s:  # connected without the background run the API would start
        user = s.get(User, alice)
        sync_accounts.connect(s, context.box, user, "memory", {"account": "x"})
        start = soon(2)
        create_activity(s, user, ActivityCreate(subject="Call Carol", type="call", start=start.isoformat(),
                                                 end=(start + dt.timedelta(hours=1)).isoformat()), source="api")
    server.user_put("x", Event(calendar_id="primary", event_id="e1", summary="Dentist", start=soon(3), end=soon(4), timezone="UTC"))
    disconnected: list[int] = []

    def other_tab(called: str, phase: str) -> None:
        if (called, phase) == (method, "before") and not disconnected:
            with httpx.Client(base_url=live_url, timeout=30) as tab:
                disconnected.append(tab.delete(BASE, headers=headers).status_code)

    server.hook = other_tab
    run = api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers)
    server.hook = None
    assert disconnected == [200]
    assert run.status_code == 200, run.text
    assert run.json()["data"]["status"] == "missing", run.json()
    assert api.get(BASE, headers=headers).json()["data"] == {"connected": False}
