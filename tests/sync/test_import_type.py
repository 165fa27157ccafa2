"""A deactivated import type: events still come in (as "meeting", or the first active type), the
user is told in plain words, and once the type is active again nothing stays missing."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import select

from calsync.crm.schemas import ActivityTypeUpdate
from calsync.crm.services.activity_types import update_type
from calsync.providers.memory import MemoryCalendarServer
from calsync.store.db import session_scope
from calsync.store.tables import ActivityType, User
from calsync.sync.model import Event
from calsync.web.context import AppContext
from tests.conftest import People
from tests.sync.harness import Harness, soon
from tests.sync.test_api import BASE, server  # noqa: F401  (the in-memory calendar server fixture)

A, BOSS = "alice@example.com", "boss@example.com"


def set_active(context: AppContext, admin_id: int, key: str, active: bool) -> None:
    with session_scope(context.sessions) as s:
        admin = s.get(User, admin_id)
        assert admin is not None
        found = s.scalar(select(ActivityType).where(ActivityType.company_id == admin.company_id, ActivityType.key == key))
        assert found is not None
        update_type(s, admin, found.id, ActivityTypeUpdate(active=active))


def test_events_come_in_as_meeting_while_the_chosen_type_is_deactivated(h: Harness) -> None:
    boss = h.user(BOSS, admin=True)
    h.connect(A, import_type="lunch")
    set_active(h.context, boss, "lunch", False)
    h.put_event(A, "Dentist")
    first = h.sync(A)
    assert first.status == "ok"
    assert [(a.subject, h.type_key(a)) for a in h.activities(A)] == [("Dentist", "meeting")]
    assert any("“Lunch” chosen for events from your calendar is deactivated" in e["message"] for e in first.entries)
    set_active(h.context, boss, "meeting", False)  # no "meeting" either: the first active type
    h.put_event(A, "Team call", start=soon(4))
    h.sync(A)
    assert [(a.subject, h.type_key(a)) for a in h.activities(A)] == [("Dentist", "meeting"), ("Team call", "call")]
    set_active(h.context, boss, "lunch", True)
    h.put_event(A, "Lunch with Bob", start=soon(5))
    last = h.sync(A)
    assert last.status == "ok" and not any("deactivated" in e["message"] for e in last.entries)
    assert [(a.subject, h.type_key(a)) for a in h.activities(A)] == [
        ("Dentist", "meeting"), ("Team call", "call"), ("Lunch with Bob", "lunch")]


def test_with_no_active_type_events_wait_and_come_in_once_one_is_active(h: Harness) -> None:
    boss = h.user(BOSS, admin=True)
    h.connect(A)
    keys = ["call", "meeting", "task", "deadline", "email", "lunch"]
    for key in keys:
        set_active(h.context, boss, key, False)
    h.put_event(A, "Dentist")
    stuck = h.sync(A)
    assert stuck.status == "provider_error" and "no other type is active" in (stuck.message or "")
    assert h.activities(A) == []
    assert h.sync(A).status == "provider_error"  # still said, still nothing lost
    set_active(h.context, boss, "task", True)
    assert h.sync(A).status == "ok"
    assert [(a.subject, h.type_key(a)) for a in h.activities(A)] == [("Dentist", "task")]


def test_the_api_and_the_settings_page_say_which_type_is_used(api: httpx.Client, people: People, context: AppContext,
                                                             server: MemoryCalendarServer) -> None:  # noqa: F811
    people.add(A)
    boss = people.add(BOSS, admin=True)
    headers = people.headers(A)
    created = api.post(f"{BASE}/connect", json={"provider": "memory", "account": "alice-cal", "import_type": "lunch"}, headers=headers)
    assert created.status_code == 201, created.text
    state = api.get(BASE, headers=headers).json()["data"]
    assert (state["import_type"], state["import_type_in_use"], state["import_type_notice"]) == ("lunch", "lunch", None)
    set_active(context, boss, "lunch", False)
    state = api.get(BASE, headers=headers).json()["data"]
    assert (state["import_type"], state["import_type_in_use"]) == ("lunch", "meeting")
    assert state["import_type_notice"] == (
        "The activity type “Lunch” chosen for events from your calendar is deactivated: new events are imported "
        "as “Meeting” until it is active again or you choose another type.")
    start = soon(3)
    server.user_put("alice-cal", Event("primary", summary="Dentist", start=start, end=start + dt.timedelta(hours=1), timezone="UTC"))
    assert api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers).json()["data"]["status"] == "ok"
    assert [a["type"] for a in api.get("/api/v1/activities", headers=headers).json()["data"]] == ["meeting"]

    login = api.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token is not None
    signed_in = api.post("/login", data={"email": A, "password": "password-123", "csrf_token": token.group(1), "next": "/settings/calendar-sync"})
    assert signed_in.status_code in (200, 303)
    page = api.get("/settings/calendar-sync").text
    assert "new events are imported as “Meeting” until it is active again or you choose another type" in page
    set_active(context, boss, "lunch", True)
    assert "new events are imported as" not in api.get("/settings/calendar-sync").text
    assert api.get(BASE, headers=headers).json()["data"]["import_type_notice"] is None
