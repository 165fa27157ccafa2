"""A calendar app's write to the built-in calendar reaches the CRM within seconds: the write
itself requests a sync of the calendar's owner (debounced), so nothing waits for the regular
schedule, which is set an hour away here. The engine's own writes into the calendar request
nothing (no sync loop). Served for real: Uvicorn, Radicale mounted in the app, the embedded runner."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from calsync.jobs.runner import EmbeddedRunner
from calsync.store import migrate
from tests.conftest import _settings
from tests.support.live import serve
from tests.support.ports import free_port
from tests.web.helpers import next_monday
from tests.web.test_builtin_calendar import WEEK, Served, event_ics, put_as_calendar_app


def within(seconds: float, check: Callable[[], object]) -> bool:
    """Polls `check` until it holds or the deadline passes (never a fixed sleep)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Served, EmbeddedRunner]]:
    """The app with the built-in calendar and the embedded runner; the schedule an hour away."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'push.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url, embedded_dav=True, runner="embedded", port=port,
                         base_url=f"http://127.0.0.1:{port}", sync_interval_seconds=3600)
    from calsync.web.app import create_app

    app = create_app(settings)
    context = app.state.context
    with serve(app, port=port) as base:
        served = Served(base, context, {})
        served.add_user("bob@example.com", "Bob")
        yield served, context.extras["runner"]


def connect_bob(served: Served, runner: EmbeddedRunner) -> None:
    with served.api("bob@example.com") as bob:
        assert bob.post("/api/v1/calendar-sync/connect", json={"provider": "builtin"}).status_code == 201
    assert within(30, lambda: any(s.status == "ok" for s in runner.history))  # the connect's first run


def test_a_phone_write_to_the_builtin_calendar_shows_in_the_crm_within_seconds(live: tuple[Served, EmbeddedRunner]) -> None:
    served, runner = live
    connect_bob(served, runner)
    start = dt.datetime.combine(next_monday(), dt.time(10), dt.timezone.utc)
    put = put_as_calendar_app(served, "bob@example.com", "phone-2.ics", event_ics("phone-2@test", "Call from the phone", start))
    assert put.status_code == 201
    written = time.monotonic()
    with served.api("bob@example.com") as bob:
        assert within(10, lambda: "Call from the phone" in [a["subject"] for a in bob.get("/api/v1/activities", params=WEEK).json()["data"]])
    assert time.monotonic() - written < 5  # the debounce (1 s) and one run, not the hourly schedule
    assert ("calendar" in [reason for _, reason in runner.requests])


def test_the_engines_own_writes_to_the_builtin_calendar_request_no_sync(live: tuple[Served, EmbeddedRunner]) -> None:
    served, runner = live
    connect_bob(served, runner)
    start = dt.datetime.combine(next_monday(), dt.time(15), dt.timezone.utc)
    runs = len(runner.history)
    with served.api("bob@example.com") as bob:
        made = bob.post("/api/v1/activities", json={"subject": "Demo for Acme", "type": "meeting", "start": start.isoformat()})
        assert made.status_code == 201, made.text
    # The CRM change syncs; that run PUTs the event into bob's built-in calendar...
    assert within(15, lambda: any(s.pushed == 1 for s in runner.history[runs:]))
    assert "Demo for Acme" in served_calendar(served, "bob@example.com")
    # ...and that PUT asked for no sync: the request is made before the write's response leaves,
    # so by the time the run has finished it would be listed.
    assert [reason for _, reason in runner.requests if reason == "calendar"] == []


def served_calendar(served: Served, email: str) -> str:
    import httpx

    from tests.web.conftest import PASSWORD

    body = '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
    return httpx.request("REPORT", served.calendar_url(email), auth=(email, PASSWORD), content=body,
                         headers={"Depth": "1", "Content-Type": "application/xml"}, timeout=30).text


@pytest.mark.browser
def test_calendar_sync_says_changes_arrive_within_seconds_or_a_minute(page, live: tuple[Served, EmbeddedRunner]) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from calsync.store.db import session_scope
    from calsync.store.tables import User
    from calsync.sync import accounts as sync_accounts
    from calsync.sync.model import CalendarInfo
    from tests.web.conftest import sign_in

    served, runner = live
    connect_bob(served, runner)
    sign_in(page, served.base, "bob@example.com")
    page.goto(served.base + "/settings/calendar-sync")
    expect(page.locator("#s-freshness")).to_have_text("Changes in your calendar arrive within seconds.")

    # Carol's calendar is on an external CalDAV server: polled, so within a minute.
    served.add_user("carol@example.com", "Carol")
    with session_scope(served.context.sessions) as session:
        carol = session.query(User).filter_by(email="carol@example.com").one()
        calendar = CalendarInfo(id="https://cal.example/carol/work/", name="Work", writable=True, primary=True)
        sync_accounts.store_connection(session, served.context.box, carol, "caldav", "carol at cal.example",
                                       {"url": "https://cal.example/", "username": "carol", "password": "p"},
                                       [calendar], wanted=calendar.id, explicit=True, )
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, served.base, "carol@example.com")
    page.goto(served.base + "/settings/calendar-sync")
    expect(page.locator("#s-freshness")).to_have_text("Changes in your calendar arrive within a minute.")
