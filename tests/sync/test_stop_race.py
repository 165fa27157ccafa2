"""A user stops sync while a run of the account is between its steps (SQLite and PostgreSQL).

The stop is slipped in at each point where a step of the run has read the account but not yet
written anything, one run per point: whatever the run ends with, the account stays stopped and
the page says "paused" (never "active" with sync switched off)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from calsync.store.tables import User
from calsync.sync import accounts as sync_accounts
from calsync.sync.engine import SyncEngine
from calsync.web.context import AppContext
from tests.sync.harness import Harness, soon

A = "alice@example.com"


class StopAt:
    """Stops sync (in its own session, as the web app would) when the engine's sessions are about
    to write for the n-th time in a transaction that has not written yet."""

    def __init__(self, h: Harness, n: int) -> None:
        self.h, self.n = h, n
        self.points = 0
        self.fired = False

    def install(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "before_flush", lambda session, *_: self._point(session))
        event.listen(sessions, "after_flush", lambda session, *_: session.info.__setitem__("wrote", True))
        event.listen(sessions, "do_orm_execute", self._statement)
        event.listen(sessions, "after_transaction_end", self._ended)

    def _point(self, session: Session) -> None:
        if session.info.get("wrote"):
            return
        session.info["wrote"] = True
        self.points += 1
        if self.points == self.n:
            self.fired = True
            with self.h.session() as s:
                sync_accounts.set_enabled(s, s.get(User, self.h.users[A]), False)

    def _statement(self, state: Any) -> None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return
        if "lease_owner" in str(state.statement):
            state.session.info["wrote"] = True  # the run's lease, taken before and cleared after its steps
            return
        self._point(state.session)

    @staticmethod
    def _ended(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            session.info.pop("wrote", None)


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
        at = StopAt(h, n)
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
