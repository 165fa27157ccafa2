"""Slipping a person's action into a sync run at each of its write points.

Every step of a run reads what it needs in its own transaction and writes later. `ActAt` runs
an action (in its own session, as the web app would) when the engine's sessions are about to
write for the n-th time in a transaction that has not written yet: what that step read is stale
then. Tests loop n = 1, 2, ... until the run offers no n-th point, so every interleaving the
runner and the web app can produce is tried in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker


class ActAt:
    def __init__(self, n: int, action: Callable[[], None]) -> None:
        self.n, self.action = n, action
        self.points = 0
        self.fired = False

    def install(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "before_flush", lambda session, *_: self._point(session))
        event.listen(sessions, "after_flush", lambda session, *_: session.info.__setitem__("wrote", True))
        event.listen(sessions, "do_orm_execute", self._statement)
        event.listen(sessions, "after_transaction_end", self._ended)

    def _point(self, session: Session) -> None:
        """A transaction about to write its first row (or to take its first row lock)."""
        if session.info.get("wrote"):
            return
        session.info["wrote"] = True
        self.points += 1
        if self.points == self.n:
            self.fired = True
            self.action()

    def _statement(self, state: Any) -> None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return
        if "lease_owner" in str(state.statement):
            state.session.info["wrote"] = True  # the run's lease, taken before and cleared after its steps
            return
        self._point(state.session)

    @staticmethod
    def _ended(session: Session, transaction: Any) -> None:
        if transaction.parent is None:  # the outer transaction, not a flush's own
            session.info.pop("wrote", None)
