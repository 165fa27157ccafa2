"""Nothing stuck, on the wire (issue 9, points 9 and 11): a write a strict server refuses shows
on the activity and in the run log with the server's words; zero-length activities reach strict
servers and come back unchanged; a recurring series with no end is taken in only up to a cap,
and its expansion stops early. Real Radicale and Xandikos, behind a refusing proxy where a strict
server is needed."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from calsync.crm.schemas import SyncInfo
from calsync.crm.services.sync_status import sync_infos
from calsync.providers.caldav import CalDavProvider
from calsync.providers.caldav.changes import norm
from calsync.store.tables import Activity, ActivityType, SyncAccount
from calsync.sync.provider import Window
from calsync.web.context import AppContext
from tests.support.dav_fixtures import radicale, xandikos  # noqa: F401  (fixtures)
from tests.support.harness import DavHarness, ics_time, make_harness
from tests.support.dav_proxy import RefusingProxy, refusing_proxy, zero_length
from tests.sync.harness import Harness, soon

A = "alice@example.com"
UTC = dt.timezone.utc


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> Iterator[DavHarness]:
    side = make_harness(request.param, {request.param: request.getfixturevalue(request.param)})
    assert isinstance(side, DavHarness)
    yield side
    side.close()


def _through(h: Harness, dav: DavHarness, root: str, calendar_url: str, **provider_args: object) -> None:
    """Points alice's account at `calendar_url`, reached through the server root `root`."""
    password = dav.server.users.get(dav.user) if dav.server.users else None
    with h.session() as s:
        s.execute(update(SyncAccount).where(SyncAccount.id == h.account(A).id).values(provider="caldav", calendar_id=calendar_url))
    h.engine.opener = lambda account: CalDavProvider(root, dav.user if password else None, password, **provider_args)  # type: ignore[arg-type]


@pytest.fixture
def hc(sync_context: AppContext, dav: DavHarness) -> Harness:
    h = Harness(sync_context)
    h.user(A)
    h.connect(A)
    _through(h, dav, dav.server.url, dav.calendar_id)
    return h


@pytest.fixture
def strict(hc: Harness, dav: DavHarness) -> Iterator[RefusingProxy]:
    """The account's server, seen through a proxy that refuses zero-length events (403)."""
    with refusing_proxy(dav.server.url, zero_length) as proxy:
        _through(hc, dav, proxy.url, proxy.base(dav.calendar_id))
        yield proxy


def _status(h: Harness, activity_id: int) -> SyncInfo:
    with h.session() as s:
        activity = s.get(Activity, activity_id)
        keys = {t.id: t.key for t in s.scalars(select(ActivityType))}
        return sync_infos(s, [activity], keys)[activity_id]


def _listed(dav: DavHarness) -> list:  # type: ignore[type-arg]
    now = dt.datetime.now(UTC)
    return dav.provider.list_changes(dav.calendar_id, None, Window(now - dt.timedelta(days=1), now + dt.timedelta(days=30))).events


# ---------------------------------------------------------------- point 9


def test_a_zero_length_call_reaches_a_strict_server_and_comes_back_unchanged(hc: Harness, dav: DavHarness, strict: RefusingProxy) -> None:
    start = soon(3)
    aid = hc.create(A, "Call Bob", start=start, hours=0)
    first = hc.sync(A)
    assert first.status == "ok" and first.pushed == 1, first.entries
    assert strict.refused == []
    assert _status(hc, aid).status == "synced"
    (event,) = [e for e in _listed(dav) if e.summary == "Call Bob"]
    assert (event.start, event.end) == (start, start)  # read back: still zero-length
    text = dav.get_ics(event.event_id)
    assert "DURATION:PT1M" in text and "X-CALSYNC-REAL-DURATION:PT0S" in text
    assert hc.sync(A, full=True).writes == 0  # the fixed point holds through the padding
    # moved in the calendar app (the length kept): still zero-length in the CRM
    later = start + dt.timedelta(hours=2)
    head, vevent = text.split("BEGIN:VEVENT", 1)
    moved = head + "BEGIN:VEVENT" + re.sub(r"^DTSTART[^\r\n]*", f"DTSTART:{ics_time(later)}", vevent, count=1, flags=re.M)
    assert moved != text
    dav._replace(event.event_id, moved)
    assert hc.sync(A).pulled == 1
    activity = hc.activity(aid)
    assert (activity.start_at, activity.end_at) == (later, later)
    # given a real length in the CRM: written with a DTEND, the marker gone
    hc.edit(A, aid, end=(later + dt.timedelta(minutes=30)).isoformat())
    assert hc.sync(A).pushed == 1
    text = dav.get_ics(event.event_id)
    assert "X-CALSYNC-REAL-DURATION" not in text and "DTEND" in text
    (event,) = [e for e in _listed(dav) if e.summary == "Call Bob"]
    assert event.end == later + dt.timedelta(minutes=30)


def test_a_refused_create_and_update_show_error_with_the_servers_words(hc: Harness, dav: DavHarness) -> None:
    words = "Unsupported calendar data: this server only stores appointments of the sales team"
    with refusing_proxy(dav.server.url, lambda body: None) as proxy:
        _through(hc, dav, proxy.url, proxy.base(dav.calendar_id))
        kept = hc.create(A, "Kept")
        assert hc.sync(A).pushed == 1
        hc.sync(A)
        proxy.refuse = lambda body: (415, words)  # the server starts refusing writes
        new = hc.create(A, "Refused")
        hc.edit(A, kept, subject="Kept (renamed)")
        summary = hc.sync(A)
        assert len(proxy.refused) == 2
        assert summary.status == "provider_error"
        for aid in (new, kept):
            info = _status(hc, aid)
            assert info.status == "error" and words in (info.reason or ""), info
            assert any(e["kind"] == "error" and e["item"] == f"activity {aid}" and words in e["message"]
                       for e in summary.entries), summary.entries
        run = hc.last_run(A)
        assert run.status == "provider_error" and any(words in e["message"] for e in run.entries)
        # the server accepts again: both go through and the errors clear
        proxy.refuse = lambda body: None
        again = hc.sync(A)
        assert again.status == "ok" and again.pushed == 2, again.entries
        assert _status(hc, new).status == "synced" and _status(hc, kept).status == "synced"


# ---------------------------------------------------------------- point 11


def _series(dav: DavHarness, summary: str, freq: str, start: dt.datetime, minutes: int = 30) -> str:
    return dav.put_ics(
        f"BEGIN:VEVENT\nUID:{summary.replace(' ', '-')}-{start:%H%M%S}\nDTSTAMP:{ics_time(dt.datetime.now(UTC))}\n"
        f"DTSTART:{ics_time(start)}\nDTEND:{ics_time(start + dt.timedelta(minutes=minutes))}\n"
        f"RRULE:FREQ={freq}\nSUMMARY:{summary}\nEND:VEVENT"
    )


def test_an_endless_hourly_series_is_taken_in_up_to_the_cap_with_a_log_line(hc: Harness, dav: DavHarness) -> None:
    start = soon(1)
    _series(dav, "Standup", "HOURLY", start)
    summary = hc.sync(A)
    assert summary.status == "ok", summary.entries
    imported = hc.activities(A)
    assert len(imported) == 500 and summary.pulled == 500  # not 8,760
    assert min(a.start_at for a in imported) == start  # the first ones, in order
    cut = [e for e in summary.entries if "500" in e["message"] and "left out" in e["message"]]
    assert cut and cut[0]["item"] == 'event "Standup"', summary.entries
    again = hc.sync(A, full=True)
    assert again.status == "ok" and again.writes == 0, again.entries


def test_the_cap_is_a_setting_and_expansion_stops_early(dav: DavHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from calsync.config import get_settings

    start = soon(0.5)
    minutely = _series(dav, "Ping", "MINUTELY", start, minutes=0)
    monkeypatch.setenv("CALSYNC_MAX_OCCURRENCES_PER_SERIES", "40")
    get_settings.cache_clear()
    try:
        provider = CalDavProvider(dav.server.url, dav.user if dav.server.users else None, dav.server.users.get(dav.user) if dav.server.users else None)
    finally:
        monkeypatch.delenv("CALSYNC_MAX_OCCURRENCES_PER_SERIES")
        get_settings.cache_clear()
    assert provider.max_occurrences == 40
    now = dt.datetime.now(UTC)
    began = time.monotonic()
    changes = provider.list_changes(dav.calendar_id, None, Window(now - dt.timedelta(days=1), now + dt.timedelta(days=365)))
    took = time.monotonic() - began
    provider.close()
    events = [e for e in changes.events if e.series_id == norm(minutely)]
    assert len(events) == 40 and events[0].start == start  # of 525,600 in the window
    assert [label for label, _ in changes.notes] == ['event "Ping"']
    assert took < 20, took  # a whole year of minutes took 138 s and 1.4 GB before
    # a rule that repeats too often to reach the window cheaply is refused with its reason, fast
    # (checked on the object itself: a server's own time-range query may take its time over it)
    from calsync.providers.caldav.objects import expand

    text = dav.get_ics(minutely).replace("FREQ=MINUTELY", "FREQ=SECONDLY").replace(
        ics_time(start), ics_time(start - dt.timedelta(days=30)))
    began = time.monotonic()
    expanded = expand(dav.calendar_id, "tick.ics", None, text, Window(now - dt.timedelta(days=1), now + dt.timedelta(days=365)))
    assert time.monotonic() - began < 10
    assert expanded.events == [] and "repeats too often" in (expanded.skipped or ""), expanded.skipped
    # ... and so is one whose long occurrences pile up: thousands of them running at once
    piled = dav.get_ics(minutely).replace("FREQ=MINUTELY", "FREQ=SECONDLY").replace(
        f"DTSTART:{ics_time(start)}", f"DTSTART:{ics_time(start - dt.timedelta(days=30))}")
    began = time.monotonic()
    expanded = expand(dav.calendar_id, "piled.ics", None, piled, Window(now - dt.timedelta(days=1), now + dt.timedelta(days=365)))
    assert time.monotonic() - began < 10
    assert expanded.events == [] and "at once" in (expanded.skipped or ""), expanded.skipped
