"""Problems shown where people look, over the REST API: an account that cannot sync lists its
problems (with where to fix them) in GET /api/v1/calendar-sync, and its activities' sync status
says "problem" or "paused" with the reason instead of "synced" — for colleagues reading them too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from calsync.crm.services.sync_health import FAILED_RUNS_FOR_PROBLEM
from calsync.providers.memory import DEFAULT_FACTORY, MemoryCalendarServer, MemoryProviderFactory
from calsync.sync import registry
from tests.conftest import People

BASE = "/api/v1/calendar-sync"
A, B = "alice@example.com", "bob@example.com"


@pytest.fixture
def server() -> Iterator[MemoryCalendarServer]:
    factory = MemoryProviderFactory()
    registry.register(factory)
    yield factory.server
    registry.register(DEFAULT_FACTORY)


class User:
    def __init__(self, api: httpx.Client, people: People, email: str) -> None:
        self.api, self.headers = api, people.headers(email)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()["data"]

    def connect(self, account: str) -> None:
        self.call("POST", f"{BASE}/connect", json={"provider": "memory", "account": account})
        # waits for the run the connect started, then runs: no run of its own is left behind
        assert self.sync()["status"] == "ok"

    def sync(self, **params: str) -> dict[str, Any]:
        return self.call("POST", f"{BASE}/sync", params={"wait": "true", **params})

    def activity(self, subject: str, days: int = 2) -> int:
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=days)
        body = {"subject": subject, "type": "call", "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
        return int(self.call("POST", "/api/v1/activities", json=body)["id"])

    def sync_of(self, activity_id: int) -> dict[str, Any]:
        return self.call("GET", f"/api/v1/activities/{activity_id}")["sync"]

    def problems(self) -> list[dict[str, Any]]:
        return self.call("GET", BASE).get("problems", [])


@pytest.fixture
def alice(api: httpx.Client, people: People) -> User:
    people.add(A, admin=True)
    return User(api, people, A)


@pytest.fixture
def bob(api: httpx.Client, people: People) -> User:
    people.add(B)
    return User(api, people, B)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_three_failed_runs_in_a_row_are_a_problem_for_the_owner_and_colleagues(alice: User, bob: User, server: MemoryCalendarServer) -> None:
    server.add_calendar("alice-cal", "primary", "Alice", primary=True)
    alice.connect("alice-cal")
    call = alice.activity("Call Carol")
    assert alice.sync()["status"] == "ok"
    assert alice.sync_of(call)["status"] == "synced"

    server.fail("5xx", times=1000, method="list_changes")
    for _ in range(FAILED_RUNS_FOR_PROBLEM - 1):
        assert alice.sync()["status"] == "provider_error"
    # one or two failures are weather: no banner yet, and the activity is still in the calendar
    assert alice.problems() == []
    assert alice.sync_of(call)["status"] == "synced"

    assert alice.sync()["status"] == "provider_error"
    [problem] = alice.problems()
    assert problem["kind"] == "provider_error" and problem["failed_runs"] == 3
    assert problem["fix"] == "/settings/calendar-sync#log-panel"
    assert "internal error (503)" in problem["detail"]
    for viewer in (alice, bob):  # bob reads alice's activity: it does not say "synced" to him either
        info = viewer.sync_of(call)
        assert info["status"] == "problem", info
        assert "the last 3 syncs failed" in info["reason"] and "503" in info["reason"]
    assert bob.call("GET", BASE) == {"connected": False}  # alice's problem is not bob's banner

    server.clear_faults()
    assert alice.sync()["status"] == "ok"
    assert alice.problems() == []
    assert alice.sync_of(call)["status"] == "synced"

    # Stopped by its owner: connected, but nothing travels (not "No calendar connected"), no banner.
    alice.call("POST", f"{BASE}/stop")
    for viewer in (alice, bob):
        info = viewer.sync_of(call)
        assert (info["status"], info["account"]) == ("paused", "alice-cal") and "sync is stopped" in info["reason"], info
    assert alice.problems() == []
    alice.call("POST", f"{BASE}/start")
    assert alice.sync()["status"] == "ok" and alice.sync_of(call)["status"] == "synced"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_revoked_grant_is_a_problem_and_deletions_waiting_pause_the_badges(alice: User, bob: User, server: MemoryCalendarServer) -> None:
    server.add_calendar("alice-cal", "primary", "Alice", primary=True)
    server.add_calendar("bob-cal", "primary", "Bob", primary=True)
    alice.connect("alice-cal")
    bob.connect("bob-cal")
    mine = alice.activity("Demo for Globex")
    his = [bob.activity(f"Visit {n}", days=2 + n) for n in range(3)]
    assert alice.sync()["status"] == "ok" and bob.sync()["status"] == "ok"

    server.revoke("alice-cal")
    assert alice.sync()["status"] == "auth_error"
    [problem] = alice.problems()
    assert (problem["kind"], problem["fix"]) == ("auth_error", "/settings/calendar-sync#status-panel")
    assert "revoked" in problem["detail"]
    info = bob.sync_of(mine)
    assert info["status"] == "problem" and "reconnect" in info["reason"]

    for event in server.events("bob-cal"):  # someone empties bob's calendar
        server.user_delete("bob-cal", "primary", event.key.event_id)
    assert bob.sync(full="true")["status"] == "needs_confirmation"
    [waiting] = bob.problems()
    assert (waiting["kind"], waiting["pending_deletions"], waiting["fix"]) == ("needs_confirmation", 3, "/settings/calendar-sync#confirm-panel")
    for viewer in (alice, bob):
        info = viewer.sync_of(his[0])
        assert info["status"] == "paused" and "confirms or cancels deleting 3 activities" in info["reason"], info
    bob.call("POST", f"{BASE}/confirm-deletions")
    assert bob.sync()["status"] == "ok"
    assert bob.problems() == []
    later = bob.activity("Visit after the clean-up")
    assert bob.sync()["status"] == "ok" and bob.sync_of(later)["status"] == "synced"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_deactivated_import_type_is_a_problem_but_activities_still_sync(alice: User, bob: User, server: MemoryCalendarServer) -> None:
    server.add_calendar("bob-cal", "primary", "Bob", primary=True)
    bob.connect("bob-cal")
    visit = bob.activity("Visit")
    assert bob.sync()["status"] == "ok"
    meeting = next(t for t in alice.call("GET", "/api/v1/activityTypes") if t["key"] == "meeting")
    alice.call("PATCH", f"/api/v1/activityTypes/{meeting['id']}", json={"active": False})

    [problem] = bob.problems()
    assert problem["kind"] == "import_type" and problem["fix"] == "/settings/calendar-sync#f-import-type"
    assert "“Meeting”" in problem["message"] and "deactivated" in problem["message"]
    assert bob.sync_of(visit)["status"] == "synced"  # the account still syncs
    bob.call("PATCH", BASE, json={"import_type": "call"})
    assert bob.problems() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_activities_wait_paused_until_a_calendar_is_chosen(alice: User, bob: User, server: MemoryCalendarServer) -> None:
    server.add_calendar("alice-cal", "primary", "Alice", primary=True)
    server.add_calendar("alice-cal", "team", "Team")
    call = alice.activity("Call Carol")
    alice.call("POST", f"{BASE}/connect", json={"provider": "memory", "account": "alice-cal"})
    assert alice.call("GET", BASE)["state"] == "choose_calendar"
    for viewer in (alice, bob):
        info = viewer.sync_of(call)
        assert info["status"] == "paused" and "choose a calendar" in info["reason"], info
    alice.call("PATCH", BASE, json={"calendar_id": "team"})
    assert alice.sync()["status"] == "ok"
    assert alice.sync_of(call)["status"] == "synced"
