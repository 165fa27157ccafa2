"""Resync and trash over the REST API: "sync everything again" lists the whole calendar anew and
catches what a change feed missed, without duplicating; the trash says why each item is there
(deleted by a person, deleted in the calendar, a cancelled occurrence) and restores the ones
picked, or all, saying which could not come back and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from calsync.providers.memory import DEFAULT_FACTORY, MemoryCalendarServer, MemoryProviderFactory
from calsync.sync import registry
from calsync.sync.model import Event
from tests.conftest import People

BASE = "/api/v1/calendar-sync"
A, B = "alice@example.com", "bob@example.com"
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def server() -> Iterator[MemoryCalendarServer]:
    factory = MemoryProviderFactory()
    registry.register(factory)
    yield factory.server
    registry.register(DEFAULT_FACTORY)


class User:
    def __init__(self, api: httpx.Client, people: People, email: str) -> None:
        self.api, self.headers, self.id = api, people.headers(email), people.ids[email]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.request(method, path, headers=self.headers, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()["data"]

    def sync(self) -> dict[str, Any]:
        return self.call("POST", f"{BASE}/sync", params={"wait": "true"})

    def activity(self, subject: str, hours: int = 30) -> int:
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=hours)
        body = {"subject": subject, "type": "call", "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
        return int(self.call("POST", "/api/v1/activities", json=body)["id"])

    def subjects(self) -> list[str]:
        return sorted(a["subject"] for a in self.call("GET", "/api/v1/activities", params={"limit": "500"}))


@pytest.fixture
def alice(api: httpx.Client, people: People) -> User:
    people.add(A, admin=True)
    return User(api, people, A)


@pytest.fixture
def bob(api: httpx.Client, people: People) -> User:
    people.add(B)
    return User(api, people, B)


def lose_change(server: MemoryCalendarServer, account: str, event_id: str, summary: str) -> None:
    """An edit the calendar's change feed never reports (as servers sometimes lose one): the
    event and its etag change, its place in the change sequence does not."""
    item = server.accounts[account]["primary"].items[event_id]
    assert item.single is not None
    item.etag = '"changed-behind-the-feed"'
    item.single = replace(item.single, summary=summary, etag=item.etag, updated=dt.datetime.now(dt.timezone.utc))


def test_sync_everything_again_catches_what_the_change_feed_missed_without_duplicates(alice: User, bob: User, server: MemoryCalendarServer) -> None:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=2)
    dentist = server.user_put("alice-cal", Event("primary", summary="Dentist", start=start, end=start + dt.timedelta(hours=1), timezone="UTC")).event_id
    alice.activity("Call Carol")
    alice.call("POST", f"{BASE}/connect", json={"provider": "memory", "account": "alice-cal"})
    assert alice.sync()["status"] == "ok"
    assert alice.subjects() == ["Call Carol", "Dentist"]

    lose_change(server, "alice-cal", dentist, "Dentist (moved to Friday)")
    assert alice.sync()["status"] == "ok"
    assert alice.subjects() == ["Call Carol", "Dentist"]  # the incremental sync cannot know

    run = alice.call("POST", f"{BASE}/resync", params={"wait": "true"})
    assert run["status"] == "ok" and run["pulled"] == 1, run
    assert alice.subjects() == ["Call Carol", "Dentist (moved to Friday)"]
    assert sorted(e.summary for e in server.events("alice-cal")) == ["Call Carol", "Dentist (moved to Friday)"]  # no copies
    assert alice.call("GET", f"{BASE}/log")[0]["trigger"] == "resync"

    queued = alice.request("POST", f"{BASE}/resync")
    assert queued.status_code == 202 and queued.json()["data"] == {"queued": True}
    nothing = bob.request("POST", f"{BASE}/resync")
    assert nothing.status_code == 404 and "no calendar connected" in nothing.json()["error"]


def test_the_trash_says_why_and_restores_the_selected_ones_or_all(alice: User, bob: User, server: MemoryCalendarServer) -> None:
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=5)).replace(microsecond=0)
    series = server.user_put_series("bob-cal", Event("primary", summary="Standup", start=start, end=start + dt.timedelta(minutes=15),
                                                     timezone="UTC"), freq="daily", count=3)
    by_hand = bob.activity("Lunch with Dana")
    by_admin = bob.activity("Quarterly review")
    in_calendar = bob.activity("Site visit")
    bob.call("POST", f"{BASE}/connect", json={"provider": "memory", "account": "bob-cal"})
    assert bob.sync()["status"] == "ok"
    occurrences = sorted((a["occurrence_id"], a["id"]) for a in bob.call("GET", "/api/v1/activities") if a["read_only"])
    assert len(occurrences) == 3

    bob.call("DELETE", f"/api/v1/activities/{by_hand}")
    alice.call("DELETE", f"/api/v1/activities/{by_admin}")  # an admin deletes bob's activity
    visit = next(e for e in server.events("bob-cal") if e.summary == "Site visit")
    server.user_delete("bob-cal", "primary", visit.key.event_id)
    server.user_cancel_occurrence("bob-cal", "primary", series, occurrences[1][0])
    assert bob.sync()["status"] == "ok"

    trash = {a["id"]: a for a in bob.call("GET", "/api/v1/activities/trash", params={"owner_id": str(bob.id)})}
    assert {i: (a["deleted_reason"], a["deleted_by_id"]) for i, a in trash.items()} == {
        by_hand: ("deleted_in_crm", bob.id),
        by_admin: ("deleted_in_crm", alice.id),
        in_calendar: ("deleted_in_calendar", None),
        occurrences[1][1]: ("cancelled_occurrence", None),
    }
    live = bob.call("GET", f"/api/v1/activities/{occurrences[0][1]}")
    assert (live["deleted_reason"], live["deleted_by_id"]) == (None, None)

    picked = bob.call("POST", "/api/v1/activities/trash/restore", json={"ids": [by_hand, occurrences[1][1], 999999]})
    assert picked["restored"] == [by_hand]
    refused = {r["id"]: r["error"] for r in picked["refused"]}
    assert set(refused) == {occurrences[1][1], 999999}
    assert "cancelled in the calendar" in refused[occurrences[1][1]] and "no activity 999999" in refused[999999]
    assert bob.call("GET", f"/api/v1/activities/{by_hand}")["deleted_at"] is None

    # "all" is the caller's own trash: alice's (an admin's) is empty, and bob's is left alone
    assert alice.call("POST", "/api/v1/activities/trash/restore", json={"all": True}) == {"restored": [], "refused": []}
    everything = bob.call("POST", "/api/v1/activities/trash/restore", json={"all": True})
    assert sorted(everything["restored"]) == sorted([by_admin, in_calendar]) and everything["refused"] == []
    left = bob.call("GET", "/api/v1/activities/trash", params={"owner_id": str(bob.id)})
    assert [a["id"] for a in left] == [occurrences[1][1]]  # the cancelled occurrence comes back only with its event
    assert bob.sync()["status"] == "ok"
    assert "Site visit" in [e.summary for e in server.events("bob-cal")]  # restored, and sent to the calendar again


@pytest.mark.parametrize(("body", "field"), [
    ({}, "all"), ({"ids": []}, "ids"), ({"ids": "1,2"}, "ids"), ({"ids": [1, "2"]}, "ids"), ({"ids": [True]}, "ids"),
    ({"ids": [0]}, "ids"), ({"ids": list(range(1, 502))}, "ids"), ({"all": "yes"}, "all"), ({"ids": [1], "all": True}, "ids"),
    ({"colour": 1}, "colour"), ([1, 2], "body"), ({"all": False}, "all"),
])
def test_restore_many_refuses_bad_bodies_with_a_422_naming_the_field(alice: User, body: Any, field: str) -> None:
    answer = alice.request("POST", "/api/v1/activities/trash/restore", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["success"] is False and answer.json()["field"] == field
