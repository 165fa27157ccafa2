"""A run reports how far it has got on its row while it goes (sync/progress.py): what a page
polling the row would see at each request the run makes to the calendar."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from calsync.store.tables import SyncRun
from tests.support.dav_fixtures import radicale  # noqa: F401  (fixture)
from tests.sync.harness import Harness, soon


def _progress_now(h: Harness) -> dict[str, Any] | None:
    """The running run's progress as another connection reads it (what the web endpoint reads)."""
    with h.session() as s:
        run = s.scalar(select(SyncRun).where(SyncRun.status == "running"))
        return dict(run.progress) if run is not None and run.progress else None


def test_a_first_import_reports_a_rising_count_page_by_page(h: Harness) -> None:
    h.server.page_size = 100
    for i in range(450):
        h.put_event("alice@example.com", f"Meeting {i:03d}", start=soon(2 + i))
    h.connect("alice@example.com")
    seen: list[dict[str, Any] | None] = []
    h.server.hook = lambda method, when: seen.append(_progress_now(h)) if (method, when) == ("list_changes", "before") else None

    summary = h.sync("alice@example.com")

    assert summary.status == "ok" and summary.pulled == 450
    # before each page: nothing yet, then the events read so far (the total is not known yet)
    assert seen == [None] + [{"phase": "reading", "done": n, "total": None} for n in (100, 200, 300, 400)]
    with h.session() as s:
        run = s.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
        assert run is not None and run.progress == {"phase": "importing", "done": 450, "total": 450}


def test_writes_to_the_calendar_report_done_of_total(h: Harness) -> None:
    for i in range(120):
        h.create("alice@example.com", f"Call {i:03d}", start=soon(2 + i))
    h.connect("alice@example.com")
    seen: list[dict[str, Any] | None] = []
    h.server.hook = lambda method, when: seen.append(_progress_now(h)) if (method, when) == ("create_event", "before") else None

    summary = h.sync("alice@example.com")

    assert summary.status == "ok" and summary.pushed == 120
    writing = [p for p in seen if p is not None]
    assert writing[0] is not None and all(p["phase"] == "writing" and p["total"] == 120 for p in writing)
    done = [p["done"] for p in writing]
    assert done == sorted(done) and done[-1] >= 118 and len(set(done)) >= 50  # rising, about every 2 of 120
    with h.session() as s:
        run = s.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
        assert run is not None and run.progress == {"phase": "writing", "done": 120, "total": 120}


def test_an_idle_run_writes_no_progress(h: Harness) -> None:
    """One page and nothing to do: no extra write for the many runs nobody watches."""
    h.put_event("alice@example.com", "Dentist", start=soon(3))
    h.connect("alice@example.com")
    h.sync("alice@example.com")
    h.sync("alice@example.com")
    with h.session() as s:
        run = s.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
        assert run is not None and run.status == "ok" and run.progress is None


def test_a_caldav_first_import_counts_objects_of_the_known_total(sync_context, radicale) -> None:  # type: ignore[no-untyped-def]
    """On a real Radicale, paged multigets of 10: the listing knows how many objects it holds, so
    the page says "20 of 25" while it reads."""
    from sqlalchemy import update

    from calsync.providers.caldav import CalDavProvider
    from calsync.store.tables import SyncAccount
    from tests.support.harness import make_harness

    dav = make_harness("radicale", {"radicale": radicale})
    try:
        h = Harness(sync_context)
        h.user("alice@example.com")
        account_id = h.connect("alice@example.com")
        with h.session() as s:
            s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(provider="caldav", calendar_id=dav.calendar_id))
        for i in range(25):
            dav.put_single(f"Visit {i:02d}", soon(3 + i), soon(4 + i))
        password = dav.server.users.get(dav.user) if dav.server.users else None  # type: ignore[attr-defined]
        seen: list[dict[str, Any] | None] = []

        def opener(account: Any) -> CalDavProvider:
            provider = CalDavProvider(dav.server.url, dav.user if password else None, password, page_size=10)  # type: ignore[attr-defined]
            listing = provider.list_changes

            def watched(*args: Any, **kwargs: Any) -> Any:
                seen.append(_progress_now(h))
                return listing(*args, **kwargs)

            provider.list_changes = watched  # type: ignore[method-assign]
            return provider

        h.engine.opener = opener
        summary = h.sync("alice@example.com")
        assert summary.status == "ok" and summary.pulled == 25, summary.entries
        assert seen == [None, {"phase": "reading", "done": 10, "total": 25}, {"phase": "reading", "done": 20, "total": 25}]
    finally:
        dav.close()


def test_a_run_out_of_time_reports_the_imports_it_took_in(h: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The run's time budget stops imports after a batch: the last progress says 2 of 5, not 5 of 5."""
    from calsync.sync import apply
    from tests.sync.test_run_budget import Clock, slow_engine

    monkeypatch.setattr(apply, "IMPORT_BATCH", 2)
    h.connect("alice@example.com")
    engine = slow_engine(h, Clock(), "list_changes", 10)
    account_id = h.account("alice@example.com").id
    assert engine.run(account_id).status == "ok"
    for n in range(5):
        h.put_event("alice@example.com", f"Visit {n}", start=soon(4 + n))

    assert engine.run(account_id).status == "partial"
    with h.session() as s:
        run = s.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
        assert run is not None and run.progress == {"phase": "importing", "done": 2, "total": 5}
