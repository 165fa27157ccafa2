"""The built-in calendar: Radicale inside the app at /dav/, signing in calsync users, with a user's
calendar connected two-way without any outside account."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services import accounts as crm_accounts
from calsync.crm.services import activities
from calsync.sync import registry
from calsync.providers.caldav import embedded
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.store.tables import Activity, User
from calsync.sync.engine import SyncEngine, open_with_registry
from calsync.sync.provider import ConnectError
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.support.harness import ics_time
from tests.support.live import serve
from tests.support.ports import free_port

UTC = dt.timezone.utc
PASSWORD = "password-123"


class Site:
    def __init__(self, url: str, context: AppContext, tokens: dict[str, str]) -> None:
        self.url, self.context, self.tokens = url, context, tokens


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url, embedded_dav=True, port=port, base_url=f"http://127.0.0.1:{port}")
    context = AppContext.build(settings)
    tokens = {}
    with session_scope(context.sessions) as s:
        for email in ("alice@example.com", "bob@example.com"):
            user, token = crm_accounts.add_user(s, context.box, email=email, password=PASSWORD, company_name="Acme")
            tokens[email] = token
        alice = crm_accounts.user_by_email(s, "alice@example.com")
        start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=1)
        activities.create_activity(s, alice, ActivityCreate(subject="Call Ada", type="call", start=start.isoformat(),
                                                            end=(start + dt.timedelta(hours=1)).isoformat()))
        embedded.connect_demo_calendar(s, context.box, settings, alice)  # before the server runs, as `calsync demo`
    from calsync.web.app import create_app

    with serve(create_app(settings), port=port) as base:
        yield Site(base, context, tokens)
    context.engine.dispose()


def calendar_url(site: Site) -> str:
    return f"{site.url}/dav/alice%40example.com/calendar/"


def sync_alice(site: Site) -> None:
    engine = SyncEngine(site.context.sessions, open_with_registry(site.context.box))
    with session_scope(site.context.sessions) as s:
        from calsync.sync import repository as repo

        account_id = repo.account_of_user(s, crm_accounts.user_by_email(s, "alice@example.com").id).id  # type: ignore[union-attr]
    summary = engine.run(account_id)
    assert summary.status == "ok", summary


def test_alice_is_connected_to_her_built_in_calendar(site: Site) -> None:
    response = httpx.get(f"{site.url}/api/v1/calendar-sync", headers={"X-Api-Token": site.tokens["alice@example.com"]})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["connected"] and data["provider"] == "caldav" and data["sync_type"] == "two_way"
    assert data["calendar_id"] == calendar_url(site)
    assert "password" not in response.text and "app-" not in response.text


def test_two_way_sync_with_a_calendar_app_signed_in_with_the_calsync_password(site: Site) -> None:
    sync_alice(site)
    app = httpx.Client(auth=("alice@example.com", PASSWORD), timeout=30)
    listing = app.request("PROPFIND", calendar_url(site), headers={"Depth": "1", "Content-Type": "application/xml"},
                          content='<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>')
    assert listing.status_code == 207
    hrefs = [h for h in httpx.Response(200, content=listing.content).text.split("<href>")[2:]]
    assert len(hrefs) == 1
    pushed = app.get(f"{site.url}{hrefs[0].split('</href>')[0]}")
    assert "SUMMARY:Call Ada" in pushed.text

    start = dt.datetime.now(UTC).replace(microsecond=0, second=0) + dt.timedelta(days=2)
    body = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Thunderbird//EN\r\nBEGIN:VEVENT\r\nUID:{uuid.uuid4()}\r\n"
            f"DTSTAMP:{ics_time(start)}\r\nDTSTART:{ics_time(start)}\r\nDTEND:{ics_time(start + dt.timedelta(hours=1))}"
            "\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    put = app.put(f"{calendar_url(site)}{uuid.uuid4()}.ics", content=body, headers={"Content-Type": "text/calendar"})
    assert put.status_code == 201
    sync_alice(site)
    with session_scope(site.context.sessions) as s:
        subjects = {a.subject for a in s.query(Activity).filter(Activity.deleted.is_(False))}
    assert {"Call Ada", "Dentist"} <= subjects


def test_sign_in_rules(site: Site) -> None:
    wrong = httpx.request("PROPFIND", calendar_url(site), auth=("alice@example.com", "not-it"), headers={"Depth": "0"})
    assert wrong.status_code == 401
    other = httpx.request("PROPFIND", calendar_url(site), auth=("bob@example.com", PASSWORD), headers={"Depth": "0"})
    assert other.status_code in (403, 404)
    stranger = httpx.request("PROPFIND", f"{site.url}/dav/", auth=("nobody@example.com", PASSWORD), headers={"Depth": "0"})
    assert stranger.status_code == 401
    with session_scope(site.context.sessions) as s:
        s.query(User).filter(User.email == "bob@example.com").update({"active": False})
    inactive = httpx.request("PROPFIND", f"{site.url}/dav/", auth=("bob@example.com", PASSWORD), headers={"Depth": "0"})
    assert inactive.status_code == 401


def test_calendar_apps_discover_it_like_any_caldav_server(site: Site) -> None:
    well_known = httpx.request("PROPFIND", f"{site.url}/.well-known/caldav", follow_redirects=False)
    assert well_known.status_code == 301 and well_known.headers["location"] == "/dav/"
    name, credentials = registry.get("caldav").connect(
        {"url": f"{site.url}/dav/", "username": "alice@example.com", "password": PASSWORD})
    assert credentials["calendar_id"] == calendar_url(site)
    with pytest.raises(ConnectError):
        registry.get("caldav").connect({"url": f"{site.url}/dav/", "username": "alice@example.com", "password": "nope-1234"})


def test_make_run_path_demo_then_serve_syncs_alice_with_her_built_in_calendar(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`calsync demo` (no server running) then the served app: the runner's first sync fills
    alice's built-in calendar with her upcoming activities, visible to a calendar app."""
    import time

    from typer.testing import CliRunner

    from calsync.cli import app as cli_app
    from calsync.config import get_settings
    from calsync.web.app import create_app

    port = free_port()
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CALSYNC_PORT", str(port))
    monkeypatch.setenv("CALSYNC_SYNC_INTERVAL_SECONDS", "3600")
    monkeypatch.delenv("CALSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CALSYNC_SECRET_KEY", raising=False)
    monkeypatch.delenv("CALSYNC_EMBEDDED_DAV", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
        demo = runner.invoke(cli_app, ["demo"])
        assert demo.exit_code == 0, demo.output
        assert "syncs two-way with the built-in calendar" in demo.output
        settings = get_settings()
        with serve(create_app(settings), port=port) as base:
            token = next(line.split("API token: ")[1].strip() for line in demo.output.splitlines()
                         if "alice@example.com" in line and "API token" in line)
            state: dict = {}
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                state = httpx.get(f"{base}/api/v1/calendar-sync", headers={"X-Api-Token": token}).json()["data"]
                if state.get("last_success_at"):
                    break
                time.sleep(0.5)
            assert state["connected"] and state["last_success_at"], state
            assert state["calendar_id"] == f"{base}/dav/alice%40example.com/calendar/"
            listing = httpx.request(
                "PROPFIND", state["calendar_id"], auth=("alice@example.com", "calsync-demo"),
                headers={"Depth": "1", "Content-Type": "application/xml"},
                content='<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>')
            assert listing.status_code == 207
            assert listing.text.count("<getetag>") >= 20  # her upcoming demo activities are there
    finally:
        get_settings.cache_clear()
