"""Push end to end over HTTP: the app under Uvicorn with its embedded runner (polling once an
hour, so only push can bring a change in time), connected through the OAuth flow. After the
first sync the runner opens a watch channel; an event created in Google makes the emulator POST
a notification to the app, which syncs the account; a forged notification changes nothing; a
disconnect stops the channel."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from calsync.store.db import session_scope
from calsync.store.tables import Activity
from tests.conftest import People
from tests.google.conftest import App, follow_consent
from tests.support.google_emulator import USERS


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


def channel_of(app: App, user_id: int) -> dict[str, Any] | None:
    import json

    account = app.account(user_id)
    if account is None:
        return None
    return json.loads(app.context.box.decrypt(account.credentials_encrypted)).get("channel")


def test_a_change_in_google_reaches_the_crm_by_push(app: App, people: People) -> None:
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    assert follow_consent(app, browser).status_code == 303
    api = {"X-Api-Token": people.tokens["ann@example.com"]}
    with httpx.Client(base_url=app.base, timeout=30, headers=api) as client:
        assert client.patch("/api/v1/calendar-sync", json={"calendar_id": USERS[0]}).status_code == 200
    channel = wait_until(lambda: channel_of(app, uid))
    assert channel is not None and channel["calendar_id"] == USERS[0]
    app.emulator.post("/notifications/settle")
    account_id = app.account(uid).id  # type: ignore[union-attr]
    hook = f"{app.base}/webhooks/calendar/{account_id}"
    delivered = app.emulator.control.get("/notifications").json()["notifications"]
    assert [(n["headers"]["X-Goog-Resource-State"], n["outcome"]) for n in delivered if n["address"] == hook][:1] == [
        ("sync", "delivered")]

    start = time.strftime("%Y-%m-%dT10:00:00Z", time.gmtime(time.time() + 3 * 86400))
    end = start.replace("T10", "T11")
    app.emulator.client(USERS[0]).post(f"/calendars/{USERS[0]}/events", json={
        "summary": "Pushed in", "start": {"dateTime": start}, "end": {"dateTime": end}})
    assert wait_until(lambda: "Pushed in" in subjects(app, uid)), subjects(app, uid)

    forged = browser.post(f"/webhooks/calendar/{account_id}", headers={
        "X-Goog-Channel-ID": channel["id"], "X-Goog-Resource-ID": channel["resource_id"],
        "X-Goog-Channel-Token": "guessed", "X-Goog-Resource-State": "exists"})
    assert forged.status_code == 403

    mark = app.emulator.requests()[-1]["seq"]
    gone = browser.delete("/api/v1/calendar-sync", headers=api)
    assert gone.status_code == 200, gone.text
    stops = [r for r in app.emulator.requests(mark) if r["path"].endswith("/channels/stop")]
    assert [r["status"] for r in stops] == [204]
    assert channel_of(app, uid) is None
