"""The calendar-sync REST API, against the app served by Uvicorn (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services.activities import create_activity
from calsync.sync import registry
from calsync.providers.memory import DEFAULT_FACTORY, MemoryCalendarServer, MemoryProviderFactory
from calsync.store.db import session_scope
from calsync.store.tables import User
from calsync.web.context import AppContext
from tests.conftest import People

BASE = "/api/v1/calendar-sync"
A, B = "alice@example.com", "bob@example.com"


@pytest.fixture
def server() -> Iterator[MemoryCalendarServer]:
    """A fresh in-memory calendar server behind the "memory" provider for this test."""
    factory = MemoryProviderFactory()
    registry.register(factory)
    yield factory.server
    registry.register(DEFAULT_FACTORY)


def add_activity(context: AppContext, user_id: int, subject: str) -> int:
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with session_scope(context.sessions) as s:
        data = ActivityCreate(subject=subject, type="call", start=start.isoformat(), end=(start + dt.timedelta(hours=1)).isoformat())
        return create_activity(s, s.get(User, user_id), data, source="sync").id


def test_connect_change_settings_sync_now_and_read_the_log(api: httpx.Client, people: People, context: AppContext, server: MemoryCalendarServer) -> None:
    alice = people.add(A)
    headers = people.headers(A)
    first = api.get(BASE, headers=headers).json()
    assert first["data"] == {"connected": False} and "memory" in [p["name"] for p in first["additional_data"]["providers"]]
    server.add_calendar("work-account", "team", "Team calendar")
    created = api.post(f"{BASE}/connect", json={"provider": "memory", "account": "work-account", "sync_type": "one_way"}, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()["data"]
    # two writable calendars: the user chooses one before anything syncs
    assert (body["connected"], body["calendar_id"], body["sync_type"], body["state"]) == (True, None, "one_way", "choose_calendar")
    assert "credentials" not in str(body) and "password" not in str(body)
    calendars = api.get(f"{BASE}/calendars", headers=headers).json()["data"]
    assert {c["id"] for c in calendars} == {"primary", "team"}
    patched = api.patch(BASE, json={"calendar_id": "team", "sync_type": "two_way", "push_types": ["call"], "send_invitations": False}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["data"]["calendar_name"], patched.json()["data"]["push_types"]) == ("Team calendar", ["call"])
    add_activity(context, alice, "Call Carol")
    run = api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers)
    assert run.status_code == 200, run.text
    assert run.json()["data"]["status"] == "ok"
    assert [e.summary for e in server.events("work-account", "team")] == ["Call Carol"]
    state = api.get(BASE, headers=headers).json()["data"]
    assert state["state"] == "active" and state["last_success_at"] and state["last_error"] is None
    log = api.get(f"{BASE}/log", headers=headers).json()["data"]
    # the run started by connect may race the calendar switch: it then commits nothing and says "restart"
    assert log and sum(r["pushed"] for r in log) == 1
    assert all(r["status"] == "ok" or (r["trigger"], r["status"]) == ("connect", "restart") for r in log)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sync_type": "sideways"}, "sync_type"),
        ({"private_events": "hidden"}, "private_events"),
        ({"import_type": "nope"}, "import_type"),
        ({"push_types": ["call", "nope"]}, "push_types"),
        ({"calendar_id": "missing"}, "calendar_id"),
        ({"colour": "red"}, "colour"),
        ({"include_details": None}, "include_details"),
    ],
)
def test_patch_answers_422_naming_the_bad_field(api: httpx.Client, people: People, server: MemoryCalendarServer, body: dict, field: str) -> None:
    people.add(A)
    api.post(f"{BASE}/connect", json={"provider": "memory", "account": "x"}, headers=people.headers(A))
    answer = api.patch(BASE, json=body, headers=people.headers(A))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and answer.json()["success"] is False


@pytest.mark.parametrize("provider", ["imap", "pop3", "smtp", "alice@example.com"])
def test_mail_protocols_and_addresses_are_refused(api: httpx.Client, people: People, provider: str) -> None:
    people.add(A)
    answer = api.post(f"{BASE}/connect", json={"provider": provider, "host": "mail.example.com"}, headers=people.headers(A))
    assert answer.status_code == 422
    assert answer.json()["error"] == "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV calendar"


def test_connect_errors_say_what_to_fix(api: httpx.Client, people: People, server: MemoryCalendarServer) -> None:
    people.add(A)
    server.ensure_account("guarded", password="secret")
    assert api.post(f"{BASE}/connect", json={}, headers=people.headers(A)).json()["field"] == "provider"
    unknown = api.post(f"{BASE}/connect", json={"provider": "fax"}, headers=people.headers(A))
    assert unknown.status_code == 422 and "memory" in unknown.json()["error"]
    wrong = api.post(f"{BASE}/connect", json={"provider": "memory", "account": "guarded", "password": "nope"}, headers=people.headers(A))
    assert (wrong.status_code, wrong.json()["field"]) == (422, "password")


def test_stop_start_confirm_and_disconnect(api: httpx.Client, people: People, server: MemoryCalendarServer) -> None:
    people.add(A)
    headers = people.headers(A)
    api.post(f"{BASE}/connect", json={"provider": "memory", "account": "x"}, headers=headers)
    assert api.post(f"{BASE}/stop", headers=headers).json()["data"]["state"] == "paused"
    assert api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers).json()["data"]["status"] == "paused"
    assert api.post(f"{BASE}/start", headers=headers).json()["data"]["enabled"] is True
    nothing = api.post(f"{BASE}/confirm-deletions", headers=headers)
    assert nothing.status_code == 409 and "no deletions" in nothing.json()["error"]
    assert api.delete(BASE, headers=headers).json()["data"] == {"connected": False}
    assert api.get(f"{BASE}/calendars", headers=headers).status_code == 404
    assert api.post(f"{BASE}/sync", headers=headers).status_code == 404


def test_each_user_sees_only_their_own_connection(api: httpx.Client, people: People, server: MemoryCalendarServer) -> None:
    people.add(A)
    people.add(B)
    api.post(f"{BASE}/connect", json={"provider": "memory", "account": "alice-cal"}, headers=people.headers(A))
    assert api.get(BASE, headers=people.headers(B)).json()["data"] == {"connected": False}
    assert api.get(BASE).status_code == 401


def test_the_in_memory_test_provider_is_not_offered_to_real_users(api: httpx.Client, people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALSYNC_TEST_PROVIDERS")
    people.add(A)
    headers = people.headers(A)
    providers = [p["name"] for p in api.get(BASE, headers=headers).json()["additional_data"]["providers"]]
    assert "memory" not in providers and "caldav" in providers
    refused = api.post(f"{BASE}/connect", json={"provider": "memory", "account": "work-account"}, headers=headers)
    assert refused.status_code == 422, refused.text
    assert "unknown provider 'memory'" in refused.json()["error"] and "caldav" in refused.json()["error"]
