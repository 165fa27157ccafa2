"""A run's time budget (docs/sync-engine.md, Stage 2, point 11): once it is spent the run takes no
new items, says where it stopped, ends as `partial` (the account stays active, no error) and
keeps the cursor where it was; the next runs go on until everything is through, nothing twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from calsync.store.tables import SyncAccount
from calsync.sync import apply
from calsync.sync.engine import SyncEngine
from tests.sync.harness import Harness, soon

A = "alice@example.com"
UTC = dt.timezone.utc


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += dt.timedelta(minutes=minutes)


def slow_engine(h: Harness, clock: Clock, method: str, minutes: float) -> SyncEngine:
    """Each call of `method` takes `minutes` on the injected clock; the budget is 5 minutes."""
    def hook(name: str, phase: str) -> None:
        if name == method and phase == "after":
            clock.advance(minutes)

    h.server.hook = hook

    def opener(account: SyncAccount) -> Any:
        return h.factory.open({"account": account.account_name})

    return SyncEngine(h.context.sessions, opener, clock=clock, run_budget=dt.timedelta(minutes=5))


def test_pushes_stop_when_the_budget_is_spent_and_the_next_run_goes_on(h: Harness) -> None:
    h.connect(A)
    clock = Clock()
    engine = slow_engine(h, clock, "create_event", 2)
    account_id = h.account(A).id
    assert engine.run(account_id).status == "ok"
    for n in range(5):
        h.create(A, f"Call {n}", start=soon(3 + n))

    first = engine.run(account_id)
    assert first.status == "partial" and first.pushed == 3, first  # 2, 4, 6 minutes: the third write ends it
    assert "3 of 5 calendar writes were made" in (first.message or "")
    assert any(e["kind"] == "notice" and "continues in the next run" in e["message"] for e in first.entries)
    account = h.account(A)
    assert account.state == "active" and account.last_error is None and account.last_success_at == clock.now - dt.timedelta(minutes=6)
    assert h.last_run(A).status == "partial"
    assert len(h.events(A)) == 3

    second = engine.run(account_id)
    assert second.status == "ok" and second.pushed == 2, second
    assert sorted(e.summary for e in h.events(A)) == [f"Call {n}" for n in range(5)]


def test_imports_stop_after_a_batch_when_the_budget_is_spent_and_the_cursor_stays(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apply, "IMPORT_BATCH", 2)
    h.connect(A)
    clock = Clock()
    engine = slow_engine(h, clock, "list_changes", 10)  # every listing alone outlasts the budget
    account_id = h.account(A).id
    assert engine.run(account_id).status == "ok"
    cursor = h.account(A).cursor
    assert cursor is not None
    for n in range(5):
        h.put_event(A, f"Visit {n}", start=soon(4 + n))

    first = engine.run(account_id)
    # the first batch is always taken in (so every run gets further), then the run stops
    assert first.status == "partial" and first.pulled == 2, first
    assert "2 of 5 new calendar events were taken in" in (first.message or "")
    assert h.account(A).cursor == cursor, "the cursor moved past changes not taken in"
    assert len(h.activities(A)) == 2

    second = engine.run(account_id)
    assert second.status == "partial" and second.pulled == 2, second
    third = engine.run(account_id)
    assert third.status == "ok" and third.pulled == 1, third
    assert h.account(A).cursor != cursor
    assert sorted(a.subject for a in h.activities(A)) == [f"Visit {n}" for n in range(5)]
    assert engine.run(account_id).writes == 0
