"""An incremental run weighs only the links with something new on either side; the guards and
settings changes still see every link."""

from __future__ import annotations

from typing import Any

import pytest

from calsync.sync import repository as repo
from tests.sync.harness import Harness

A = "alice@example.com"


@pytest.fixture()
def weighed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many links each run handed to the decision."""
    seen: list[int] = []
    import calsync.sync.engine as engine

    real = engine.decide

    def spy(links: list[Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(len(links))
        return real(links, *args, **kwargs)

    monkeypatch.setattr(engine, "decide", spy)
    return seen


def test_idle_run_weighs_no_link_and_an_edit_weighs_one(h: Harness, weighed: list[int]) -> None:
    h.connect(A)
    ids = [h.create(A, f"Call {i}") for i in range(6)]
    h.sync(A)  # first run: full listing, nothing linked before it ran
    assert weighed[-1] == 0
    h.sync(A)
    assert weighed[-1] == 6  # the calendar's change feed lists the 6 events this side created
    h.sync(A)
    assert weighed[-1] == 0  # idle
    h.edit(A, ids[2], subject="Call 2 (moved)")
    h.sync(A)
    assert weighed[-1] == 1
    assert sorted(e.summary for e in h.server.events(A)) == sorted([f"Call {i}" for i in range(6) if i != 2] + ["Call 2 (moved)"])
    event = next(e for e in h.events(A) if e.summary == "Call 4")
    h.server.user_delete(A, "primary", event.event_id)
    h.sync(A)
    assert weighed[-1] == 2  # the tombstone, and the echo of the update pushed by the run before
    assert h.activity(ids[4]).deleted


def test_a_settings_change_weighs_every_link(h: Harness, weighed: list[int]) -> None:
    h.connect(A)
    for i in range(3):
        h.create(A, f"Call {i}")
    h.sync(A)
    h.sync(A)
    h.sync(A)
    assert weighed[-1] == 0
    h.settings(A, push_types=["lunch"])
    h.sync(A)
    assert weighed[-1] == 3
    assert h.server.events(A) == []


def test_guard_counts_every_synced_pair_not_only_the_weighed_ones(h: Harness) -> None:
    h.connect(A)
    ids = [h.create(A, f"Call {i}") for i in range(60)]
    h.sync(A)
    h.sync(A)
    with h.session() as s:
        assert repo.live_link_count(s, h.account(A)) == 60
    for aid in ids[:11]:  # 11 of 60: above the floor of 10 but under 20 %
        h.delete(A, aid)
    summary = h.sync(A)
    assert summary.status == "ok", summary.message
    assert len(h.server.events(A)) == 49
