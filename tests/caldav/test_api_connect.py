"""POST /api/v1/calendar-sync/connect with a CalDAV account, over HTTP against the served app and
a real Radicale: what a user of the API sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from calsync.crm.services import accounts as crm_accounts
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.support.live import serve
from tests.support.radicale import DavServer


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url)
    context = AppContext.build(settings)
    with session_scope(context.sessions) as s:
        _, token = crm_accounts.add_user(s, context.box, email="ann@acme.test", password="password-123",
                                         company_name="Acme")
    from calsync.web.app import create_app

    with serve(create_app(settings)) as base, httpx.Client(base_url=base, headers={"X-Api-Token": token},
                                                           timeout=60) as client:
        yield client
    context.engine.dispose()


def test_connect_caldav_over_the_api(api: httpx.Client, radicale: DavServer) -> None:
    calendar = radicale.make_calendar("alice", "api-work", display="API Work")
    response = api.post("/api/v1/calendar-sync/connect", json={
        "provider": "caldav", "url": radicale.url, "username": "alice", "password": "alice-pass-1",
        "calendar": "API Work"})
    assert response.status_code == 201, response.text
    state = api.get("/api/v1/calendar-sync").json()["data"]
    assert state["connected"] and state["provider"] == "caldav"
    assert state["calendar_id"] == calendar and state["calendar_name"] == "API Work"
    assert "alice-pass-1" not in api.get("/api/v1/calendar-sync").text
    listed = api.get("/api/v1/calendar-sync/calendars").json()
    assert calendar in [c["id"] for c in listed["data"]]


@pytest.mark.parametrize("params, field, needle", [
    ({"password": "wrong-password"}, "password", "refused the user name or password"),
    ({"url": "imaps://imap.example.com"}, "url", "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV"),
    ({"calendar": "Nope"}, "calendar", "there is no calendar 'Nope'"),
])
def test_connect_errors_are_422_with_the_field_and_what_to_fix(
        api: httpx.Client, radicale: DavServer, params: dict[str, str], field: str, needle: str) -> None:
    body = {"provider": "caldav", "url": radicale.url, "username": "alice", "password": "alice-pass-1", **params}
    response = api.post("/api/v1/calendar-sync/connect", json=body)
    assert response.status_code == 422, response.text
    assert needle in response.text
    assert field in response.text


def test_listing_calendars_of_a_connection_whose_stored_address_is_lost_says_reconnect(tmp_path: Path) -> None:
    """A stored connection that can no longer be opened (its server address is missing) is a
    409 that says to reconnect, never a 500."""
    from calsync.store.tables import SyncAccount, User

    url = f"sqlite:///{tmp_path / 'lost.db'}"
    migrate.upgrade(url)
    settings = _settings(tmp_path, url)
    context = AppContext.build(settings)
    with session_scope(context.sessions) as s:
        user, token = crm_accounts.add_user(s, context.box, email="lee@acme.test", password="password-123",
                                            company_name="Acme")
        owner = s.get(User, user.id)
        assert owner is not None
        s.add(SyncAccount(user_id=owner.id, company_id=owner.company_id, provider="caldav", account_name="lee@dav.test",
                          credentials_encrypted=context.box.encrypt("{}"), calendar_id="cal", calendar_name="Work"))
    from calsync.web.app import create_app

    with serve(create_app(settings)) as base, httpx.Client(base_url=base, headers={"X-Api-Token": token},
                                                           timeout=60) as client:
        response = client.get("/api/v1/calendar-sync/calendars")
    context.engine.dispose()
    assert response.status_code == 409, response.text
    assert "reconnect" in response.json()["error"]


@pytest.fixture
def fresh() -> Iterator[DavServer]:
    """A Radicale of this test alone: its users have exactly the calendars the test makes."""
    from tests.support.radicale import radicale_server

    with radicale_server() as server:
        yield server


def test_an_account_with_several_calendars_waits_until_one_is_chosen(api: httpx.Client, fresh: DavServer) -> None:
    """Connecting starts nothing while the account has more than one writable calendar and none
    was named: no event lands in a calendar the user did not choose (and would have to clean up)."""
    import datetime as dt

    work = fresh.make_calendar("alice", "work", display="Work")
    personal = fresh.make_calendar("alice", "personal", display="Personal")
    day = dt.date.today() + dt.timedelta(days=3)
    created = api.post("/api/v1/activities", json={"subject": "Pitch to Globex", "type": "meeting",
                                                   "start": f"{day}T10:00:00+00:00", "end": f"{day}T11:00:00+00:00"})
    assert created.status_code == 201, created.text

    connected = api.post("/api/v1/calendar-sync/connect", json={
        "provider": "caldav", "url": fresh.url, "username": "alice", "password": "alice-pass-1"})
    assert connected.status_code == 201, connected.text
    data = connected.json()["data"]
    assert (data["state"], data["calendar_id"]) == ("choose_calendar", None)
    listed = api.get("/api/v1/calendar-sync/calendars").json()["data"]
    assert sorted((c["name"], c["writable"]) for c in listed) == [("Personal", True), ("Work", True)]
    run = api.post("/api/v1/calendar-sync/sync?wait=true").json()["data"]
    assert run["status"] == "paused" and "choose a calendar" in run["message"]
    for calendar in (work, personal):
        assert "Pitch to Globex" not in fresh.get("alice", calendar).text

    chosen = api.patch("/api/v1/calendar-sync", json={"calendar_id": personal})
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["data"]["state"], chosen.json()["data"]["calendar_name"]) == ("active", "Personal")
    run = api.post("/api/v1/calendar-sync/sync?wait=true").json()["data"]
    assert run["status"] == "ok", run  # (the run the choice started may have pushed it already)
    assert "Pitch to Globex" in fresh.get("alice", personal).text
    assert "Pitch to Globex" not in fresh.get("alice", work).text


def test_an_account_with_one_writable_calendar_starts_at_once(api: httpx.Client, fresh: DavServer) -> None:
    """Nothing to choose: the account's only calendar is taken and the first sync can start."""
    only = fresh.make_calendar("alice", "only", display="Only one")
    connected = api.post("/api/v1/calendar-sync/connect", json={
        "provider": "caldav", "url": fresh.url, "username": "alice", "password": "alice-pass-1"})
    assert connected.status_code == 201, connected.text
    data = connected.json()["data"]
    assert (data["state"], data["calendar_id"], data["calendar_name"]) == ("active", only, "Only one")


def test_an_account_with_several_calendars_starts_at_once_on_the_one_named(api: httpx.Client, fresh: DavServer) -> None:
    """A calendar named at connect ("calendar": its name) is the user's choice: no second question,
    and the sync goes to that one, whatever other calendars the account holds."""
    fresh.make_calendar("alice", "work", display="Work")
    personal = fresh.make_calendar("alice", "personal", display="Personal")
    connected = api.post("/api/v1/calendar-sync/connect", json={
        "provider": "caldav", "url": fresh.url, "username": "alice", "password": "alice-pass-1",
        "calendar": "Personal"})
    assert connected.status_code == 201, connected.text
    data = connected.json()["data"]
    assert (data["state"], data["calendar_id"], data["calendar_name"]) == ("active", personal, "Personal")
    run = api.post("/api/v1/calendar-sync/sync?wait=true").json()["data"]
    assert run["status"] == "ok", run
