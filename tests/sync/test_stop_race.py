"""A user stops sync while a run of the account is between its steps (SQLite and PostgreSQL).

The stop is slipped in at each point where a step of the run has read the account but not yet
written anything, one run per point: whatever the run ends with, the account stays stopped and
the page says "paused" (never "active" with sync switched off)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker

from calsync.store.tables import User
from calsync.sync import accounts as sync_accounts
from calsync.sync.engine import SyncEngine
from calsync.web.context import AppContext
from tests.sync.harness import Harness, soon
from tests.sync.write_points import ActAt

A = "alice@example.com"


def stop_at(h: Harness, n: int) -> ActAt:
    """Stops sync at the run's n-th write point."""
    def stop() -> None:
        with h.session() as s:
            sync_accounts.set_enabled(s, s.get(User, h.users[A]), False)

    return ActAt(n, stop)


@pytest.mark.parametrize("calendar_fails", [False, True], ids=["run-ok", "provider-error"])
def test_a_stop_during_a_run_stays_stopped_and_shows_paused(context: AppContext, calendar_fails: bool) -> None:
    h = Harness(context)
    h.user(A)
    account_id = h.connect(A)
    n = 0
    while True:
        n += 1
        assert n < 50, "the run never stopped offering write points"
        with h.session() as s:
            sync_accounts.set_enabled(s, s.get(User, h.users[A]), True)
        h.create(A, f"Call {n}", start=soon(2))
        h.put_event(A, f"Dentist {n}", start=soon(3))
        if calendar_fails:
            h.server.fail("5xx", method="list_changes")
        at = stop_at(h, n)
        sessions = sessionmaker(**h.context.sessions.kw)  # same database and options, its own events
        at.install(sessions)
        summary = SyncEngine(sessions, h.engine.opener).run(account_id)
        h.server.clear_faults()
        if not at.fired:
            break
        with h.session() as s:
            page = sync_accounts.view(sync_accounts.get_account(s, s.get(User, h.users[A])))
        assert (page["enabled"], page["state"]) == (False, "paused"), (n, summary, page)
    # the points tried: the run's start and finish at least, and with a listing also its commit and writes
    assert n - 1 >= (2 if calendar_fails else 4), n
    assert summary.status == ("provider_error" if calendar_fails else "ok"), summary
    assert h.account(A).state == ("provider_error" if calendar_fails else "active")
