"""Every user's own calendar in the built-in CalDAV server (/dav/): one click in Settings ›
Calendar sync connects it (nothing typed), a calendar app of the user reaches it with the calsync
password, and nobody else can read it. Served for real (Uvicorn, Radicale mounted in the app)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from calsync.crm.services import accounts as crm_accounts
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.support.live import serve
from tests.support.ports import free_port
from tests.web.a11y import assert_accessible
from tests.web.conftest import PASSWORD, shoot, sign_in
from tests.web.helpers import next_monday


@dataclass
class Served:
    base: str
    context: AppContext
    tokens: dict[str, str]

    def add_user(self, email: str, name: str) -> None:
        with session_scope(self.context.sessions) as session:
            _, token = crm_accounts.add_user(session, self.context.box, email=email, password=PASSWORD,
                                             company_name="Acme", name=name)
        self.tokens[email] = token

    def api(self, email: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-Api-Token": self.tokens[email]}, timeout=60)

    def calendar_url(self, email: str) -> str:
        return f"{self.base}/dav/{email}/calendar/"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The app with its built-in calendar on, users alice and bob (neither has a calendar yet)."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'builtin.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url, embedded_dav=True, port=port, base_url=f"http://127.0.0.1:{port}")
    context = AppContext.build(settings)
    from calsync.web.app import create_app

    with serve(create_app(settings), port=port) as base:
        app = Served(base, context, {})
        app.add_user("alice@example.com", "Alice")
        app.add_user("bob@example.com", "Bob")
        yield app
    context.engine.dispose()


WEEK = {"start_date": str(next_monday()), "end_date": str(next_monday() + dt.timedelta(days=7))}


def event_ics(uid: str, summary: str, start: dt.datetime) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    end = start + dt.timedelta(hours=1)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//a calendar app//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start.strftime(fmt)}\r\nDTEND:{end.strftime(fmt)}\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put_as_calendar_app(served: Served, email: str, name: str, ics: str) -> httpx.Response:
    """What Thunderbird or DAVx5 does: a PUT with the user's own calsync e-mail and password."""
    return httpx.put(served.calendar_url(email) + name, content=ics.encode(), auth=(email, PASSWORD),
                     headers={"Content-Type": "text/calendar; charset=utf-8"}, timeout=30)


def propfind(url: str, auth: tuple[str, str], depth: str = "1") -> httpx.Response:
    return httpx.request("PROPFIND", url, auth=auth, headers={"Depth": depth, "Content-Type": "application/xml"},
                         content='<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>'
                                 '<D:resourcetype/></D:prop></D:propfind>', timeout=30)


def test_every_user_connects_their_own_builtin_calendar_over_the_api(served: Served) -> None:
    with served.api("bob@example.com") as bob:
        offered = bob.get("/api/v1/calendar-sync").json()["additional_data"]["providers"]
        assert offered[0]["name"] == "builtin"
        connected = bob.post("/api/v1/calendar-sync/connect", json={"provider": "builtin"})
        assert connected.status_code == 201, connected.text
        data = connected.json()["data"]
        assert data["state"] == "active" and data["calendar_name"] == "Bob's calendar"
        assert data["account"] == "bob@example.com on this calsync (built-in calendar)"
        listed = bob.get("/api/v1/calendar-sync/calendars").json()["data"]
        assert [c["name"] for c in listed] == ["Bob's calendar"]

        # An event bob's phone writes into his built-in calendar comes in with the next sync.
        start = dt.datetime.combine(next_monday(), dt.time(9), dt.timezone.utc)
        assert put_as_calendar_app(served, "bob@example.com", "phone-1.ics",
                                   event_ics("phone-1@test", "Call from bob's phone", start)).status_code == 201
        run = bob.post("/api/v1/calendar-sync/sync?wait=true").json()["data"]
        assert run["status"] == "ok" and run["pulled"] == 1, run
        found = bob.get("/api/v1/activities", params=WEEK).json()["data"]
        assert "Call from bob's phone" in [a["subject"] for a in found]

        # Only the provider is sent: anything else is a clear 422.
        extra = bob.post("/api/v1/calendar-sync/connect", json={"provider": "builtin", "password": "x"})
        assert extra.status_code == 422 and "takes no password" in extra.json()["error"]

    # Alice cannot read bob's calendar, neither through calsync nor with a calendar app.
    assert propfind(served.calendar_url("bob@example.com"), ("alice@example.com", PASSWORD)).status_code == 403
    assert httpx.get(served.calendar_url("bob@example.com"), auth=("alice@example.com", PASSWORD)).status_code == 403
    with served.api("alice@example.com") as alice:
        assert alice.post("/api/v1/calendar-sync/connect", json={"provider": "builtin"}).status_code == 201
        mine = alice.get("/api/v1/calendar-sync/calendars").json()["data"]
        assert [c["name"] for c in mine] == ["Alice's calendar"]
        assert all("bob" not in c["id"] for c in mine)
        alice.post("/api/v1/calendar-sync/sync?wait=true")
        theirs = alice.get("/api/v1/activities", params=WEEK).json()["data"]
        assert "Call from bob's phone" not in [a["subject"] for a in theirs]


def test_a_calendar_app_finds_the_users_calendar_without_any_setup(served: Served) -> None:
    """A user who never opened calsync's settings signs in at /dav/ from a calendar app and finds
    their calendar there (it is made on first sign-in), ready to hold events."""
    served.add_user("cho@example.com", "Cho")
    home = propfind(f"{served.base}/dav/cho@example.com/", ("cho@example.com", PASSWORD))
    assert home.status_code == 207, home.text
    assert "Cho&#x27;s calendar" in home.text or "Cho's calendar" in home.text
    start = dt.datetime.combine(next_monday(), dt.time(11), dt.timezone.utc)
    assert put_as_calendar_app(served, "cho@example.com", "a.ics", event_ics("a@test", "Lunch", start)).status_code == 201


def test_the_builtin_calendar_is_refused_when_the_server_has_none(api: httpx.Client, people) -> None:  # type: ignore[no-untyped-def]
    people.add("dee@example.com")
    headers = people.headers("dee@example.com")
    assert "builtin" not in [p["name"] for p in api.get("/api/v1/calendar-sync", headers=headers).json()["additional_data"]["providers"]]
    refused = api.post("/api/v1/calendar-sync/connect", json={"provider": "builtin"}, headers=headers)
    assert refused.status_code == 422
    assert "the built-in calendar is off on this server" in refused.json()["error"]


@pytest.mark.browser
def test_bob_uses_his_builtin_calendar_with_one_click(page: Page, served: Served) -> None:
    sign_in(page, served.base, "bob@example.com")
    page.goto(served.base + "/settings/calendar-sync")
    expect(page.locator("#connect-panel")).to_be_visible()
    expect(page.locator('.provider[data-provider="builtin"]')).to_contain_text(f"{served.base}/dav/")
    shoot(page, "settings-connect-builtin", docs=True)
    assert_accessible(page, "the connect panel with the built-in calendar")
    page.get_by_role("button", name="Use the built-in calendar").click()
    expect(page.locator("#status-panel")).to_be_visible()
    expect(page.locator("#s-calendar")).to_have_text("Bob's calendar")
    expect(page.locator("#s-account")).to_contain_text("bob@example.com on this calsync (built-in calendar)")
    expect(page.locator("#choose-panel")).to_be_hidden()
    expect(page.locator("#f-calendar")).to_have_value(served.calendar_url("bob@example.com").replace("@", "%40"))

    monday = next_monday()
    start = dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(14), dt.timezone.utc)
    assert put_as_calendar_app(served, "bob@example.com", "dentist.ics",
                               event_ics("dentist@test", "Dentist (from bob's phone)", start)).status_code == 201
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done", timeout=60_000)
    expect(page.locator("#action-result")).to_contain_text("1 from the calendar")
    shoot(page, "settings-builtin-connected", docs=True)
    assert_accessible(page, "settings connected to the built-in calendar")
    page.goto(f"{served.base}/calendar?view=timeGridWeek&date={monday}")
    event = page.locator(".fc-event", has_text="Dentist (from bob's phone)")
    expect(event).to_be_visible()
    expect(event).to_have_attribute("data-sync-status", "synced")

    # Alice's one click gives her own calendar, which does not hold bob's event; bob's calendar
    # refuses her password.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, served.base, "alice@example.com")
    page.goto(served.base + "/settings/calendar-sync")
    page.get_by_role("button", name="Use the built-in calendar").click()
    expect(page.locator("#s-calendar")).to_have_text("Alice's calendar")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#action-result")).to_contain_text("Sync now: done — 0 from the calendar", timeout=60_000)
    assert "Dentist" not in httpx.get(served.calendar_url("alice@example.com"), auth=("alice@example.com", PASSWORD)).text
    assert httpx.get(served.calendar_url("bob@example.com"), auth=("alice@example.com", PASSWORD)).status_code == 403
