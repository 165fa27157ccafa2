"""Change notifications end to end: the app under Uvicorn with its embedded runner (polling once
an hour, so only a notification can bring a change in time), connected through the OAuth flow.
After the first sync the runner subscribes; an event created in Outlook makes the emulator POST
a notification to the app, which syncs the account; a disconnect deletes the subscription."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from calsync.store.db import session_scope
from calsync.store.tables import Activity
from tests.conftest import People
from tests.microsoft_connect.conftest import App, follow_consent
from tests.support.microsoft_emulator import USERS


@pytest.fixture
def app_settings() -> dict[str, object]:
    return {"runner": "embedded", "sync_interval_seconds": 3600, "sync_debounce_seconds": 0.2}


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return None


def subjects(app: App, user_id: int) -> list[str]:
    with session_scope(app.context.sessions) as s:
        return sorted(a.subject for a in s.scalars(select(Activity).where(Activity.owner_id == user_id,
                                                                        Activity.deleted.is_(False))))


def test_a_change_in_outlook_reaches_the_crm_by_notification(app: App, people: People) -> None:
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    assert follow_consent(app, browser).status_code == 303
    calendar = browser.get("/api/v1/calendar-sync/calendars").json()["data"][0]["id"]
    with httpx.Client(base_url=app.base, timeout=30, headers=people.headers("ann@example.com")) as api:
        assert api.patch("/api/v1/calendar-sync", json={"calendar_id": calendar}).status_code == 200
        channel = wait_until(lambda: app.stored(uid).get("channel"))
        assert channel is not None and channel["calendar_id"] == calendar
        [sub] = app.emulator.control.get("/subscriptions").json()["subscriptions"]
        assert sub["id"] == channel["id"]

        start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
        made = app.emulator.client(USERS[0]).post(f"/me/calendars/{calendar}/events", json={
            "subject": "Pushed in", "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
        assert made.status_code == 201, made.text
        assert wait_until(lambda: "Pushed in" in subjects(app, uid)), subjects(app, uid)

        assert api.delete("/api/v1/calendar-sync").status_code in (200, 204)
    assert app.emulator.control.get("/subscriptions").json()["subscriptions"] == []
