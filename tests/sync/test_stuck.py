"""Nothing stuck (issue 9, points 8 and 10), on the in-memory provider: one failing item never
stops an account, every run ends in a final state (also one whose process was killed), and a
rolling horizon brings in new occurrences of an unchanged series under 5-minute runs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from sqlalchemy import select, update

from calsync.providers.caldav.ical import Unmappable
from calsync.store.tables import SyncAccount, SyncLink, SyncRun
from calsync.sync.engine import SyncEngine
from calsync.sync.model import Event
from calsync.web.context import AppContext
from tests.sync.harness import Harness

A = "alice@example.com"
UTC = dt.timezone.utc


def _runs(h: Harness) -> list[SyncRun]:
    with h.session() as s:
        rows = list(s.scalars(select(SyncRun).where(SyncRun.account_id == h.account(A).id).order_by(SyncRun.id)))
        for row in rows:
            s.expunge(row)
        return rows


def test_an_item_that_fails_unexpectedly_is_marked_error_and_the_run_goes_on(h: Harness) -> None:
    h.connect(A)
    bad, good = h.create(A, "Bad"), h.create(A, "Good")
    assert h.sync(A).pushed == 2
    h.sync(A)
    h.edit(A, bad, subject="Bad (renamed)")
    h.edit(A, good, subject="Good (renamed)")
    bad_uuid = h.activity(bad).uuid
    plain = h.engine.opener

    def opener(account: SyncAccount) -> Any:
        provider = plain(account)
        real = provider.update_event

        def update_event(event: Event, etag: str | None, *, send_invitations: bool) -> Event:
            if event.activity_uuid == bad_uuid:  # as the CalDAV provider does on an object it cannot patch
                raise Unmappable("the calendar object holds no event (VEVENT)")
            return real(event, etag, send_invitations=send_invitations)

        provider.update_event = update_event
        return provider

    h.engine.opener = opener
    summary = h.sync(A)  # raised Unmappable out of the run before
    assert summary.status == "provider_error"
    assert sorted(e.summary for e in h.events(A)) == ["Bad", "Good (renamed)"]  # the rest went on
    (link,) = [link for link in h.links(A) if link.activity_id == bad]
    assert link.status == "error" and "holds no event" in (link.error or "")
    assert any(e["kind"] == "error" and e["item"] == f"activity {bad}" for e in summary.entries)
    account = h.account(A)
    assert account.state == "provider_error" and "holds no event" in (account.last_error or "")
    assert [run.status for run in _runs(h)][-1] == "provider_error" and _runs(h)[-1].finished_at is not None
    h.engine.opener = plain
    again = h.sync(A)
    assert again.status == "ok" and again.pushed == 1
    assert sorted(e.summary for e in h.events(A)) == ["Bad (renamed)", "Good (renamed)"]
    assert h.account(A).state == "active"


def test_an_unexpected_error_ends_the_run_in_a_final_state(h: Harness) -> None:
    h.connect(A)
    plain = h.engine.opener

    def opener(account: SyncAccount) -> Any:
        provider = plain(account)
        provider.list_changes = lambda *args, **kwargs: {}["no such page"]  # a provider bug: KeyError
        return provider

    h.engine.opener = opener
    summary = h.sync(A)
    assert summary.status == "provider_error" and "KeyError" in (summary.message or "")
    assert h.account(A).state == "provider_error"
    (run,) = _runs(h)
    assert run.status == "provider_error" and run.finished_at is not None
    h.engine.opener = plain
    assert h.sync(A).status == "ok" and h.account(A).state == "active"


def test_a_run_orphaned_by_a_killed_process_is_closed_when_the_lease_is_taken_over(h: Harness, sync_context: AppContext) -> None:
    account_id = h.connect(A)
    h.create(A, "Call")
    url = sync_context.settings.database_url
    script = (
        "import sys\n"
        "from calsync.store.db import make_engine, make_session_factory\n"
        "from calsync.providers.memory import MemoryCalendarServer\n"
        "from calsync.sync.engine import SyncEngine\n"
        "server = MemoryCalendarServer()\n"
        "def opener(account):\n"
        "    provider = server.open(account.account_name)\n"
        "    def stalled(*args, **kwargs):\n"
        "        print('listing', flush=True)\n"
        "        sys.stdin.readline()\n"
        "    provider.list_changes = stalled\n"
        "    return provider\n"
        f"SyncEngine(make_session_factory(make_engine({url!r})), opener).run({account_id})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "listing"
        other.send_signal(signal.SIGKILL)  # the process dies in the middle of its run
        other.wait(20)
    finally:
        if other.poll() is None:
            other.kill()
    (orphan,) = _runs(h)
    assert orphan.status == "running" and h.account(A).state == "syncing"
    assert h.sync(A).status == "busy"  # its lease still holds ...
    with h.session() as s:  # ... until it expires (5 minutes later)
        s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(
            lease_until=dt.datetime.now(UTC) - dt.timedelta(seconds=1)))
    summary = h.sync(A)
    assert summary.status == "ok" and summary.pushed == 1
    orphan, latest = _runs(h)
    assert orphan.status == "abandoned" and orphan.finished_at is not None
    assert "stopped before it finished" in (orphan.error or "")
    assert latest.status == "ok" and h.account(A).state == "active"


@pytest.mark.timeout(900)
def test_new_occurrences_of_an_unchanged_series_arrive_under_five_minute_runs(h: Harness) -> None:
    """Two weeks of runs every 5 minutes on an injected clock, with a 7-day horizon: every day a
    new occurrence of an unchanged daily series enters the horizon and must be imported (the
    second week's occurrences only ever come from a later complete listing)."""
    start = dt.datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    now = [start - dt.timedelta(hours=1)]
    h.server.clock = lambda: now[0]
    h.connect(A)
    h.engine = SyncEngine(h.context.sessions, h.engine.opener, clock=lambda: now[0], horizon_days=7)
    series = Event(calendar_id="primary", summary="Standup", start=start, end=start + dt.timedelta(minutes=15), timezone="UTC")
    h.server.user_put_series(A, series, freq="daily")
    horizons = set()
    for _ in range(14 * 24 * 12):
        summary = h.sync(A)
        assert summary.status == "ok", summary.entries
        horizons.add(h.account(A).horizon_until)
        now[0] += dt.timedelta(minutes=5)
    taken = sorted(a.start_at for a in h.activities(A))
    # every occurrence that entered the 7-day horizon more than a day ago is in
    expected = [start + dt.timedelta(days=d) for d in range((now[0] + dt.timedelta(days=6) - start).days + 1)]
    assert taken[: len(expected)] == expected, (len(taken), len(expected))
    assert 14 <= len(horizons) <= 16  # one complete listing a day, not one per run
