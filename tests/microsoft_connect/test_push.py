"""Change notifications over HTTP: the app under Uvicorn, the Graph emulator creating real
subscriptions (its validation handshake POSTs to the app's receiver on 127.0.0.1) and POSTing
real notifications and lifecycle events. A notification only requests a sync (the runner here
records the requests); renewal runs on an injected clock, nothing sleeps."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from calsync.jobs.push import Channels
from tests.conftest import People
from tests.microsoft_connect.conftest import App, follow_consent
from tests.support.microsoft_emulator import USERS

UTC = dt.timezone.utc


class Recorder:
    """Stands in for the runner: what was asked of it."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, str]] = []

    def request_sync(self, account_id: int, trigger: str) -> None:
        self.requests.append((account_id, trigger))


def until(check: Callable[[], Any], what: str, seconds: float = 10.0) -> Any:
    """The receiver handles lifecycle events after answering: wait for their visible effect."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not seen within {seconds}s: {what}")


@pytest.fixture
def runner(app: App) -> Recorder:
    recorder = Recorder()
    app.context.extras["runner"] = recorder
    return recorder


def connected(app: App, people: People) -> tuple[int, int, str]:
    """Ann connected, her default calendar chosen: (user id, account id, calendar id)."""
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    follow_consent(app, browser)
    calendar = browser.get("/api/v1/calendar-sync/calendars").json()["data"][0]["id"]
    with httpx.Client(base_url=app.base, timeout=30, headers=people.headers("ann@example.com")) as api:
        assert api.patch("/api/v1/calendar-sync", json={"calendar_id": calendar}).status_code == 200
    account = app.account(uid)
    assert account is not None
    return uid, account.id, calendar


def subscriptions(app: App) -> list[dict[str, Any]]:
    return list(app.emulator.control.get("/subscriptions").json()["subscriptions"])


def outlook_edit(app: App, calendar: str, subject: str = "Lunch") -> None:
    client = app.emulator.client(USERS[0])
    made = client.post(f"/me/calendars/{calendar}/events", json={
        "subject": subject, "start": {"dateTime": "2030-01-02T12:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-02T13:00:00", "timeZone": "UTC"}})
    assert made.status_code == 201, made.text


def test_a_validated_subscription_turns_an_outlook_change_into_a_sync_request(app: App, people: People,
                                                                             runner: Recorder) -> None:
    uid, account_id, calendar = connected(app, people)
    runner.requests.clear()
    channel = Channels(app.context).ensure(account_id)
    assert channel is not None and app.stored(uid)["channel"] == channel
    [sub] = subscriptions(app)
    assert sub["id"] == channel["id"] and sub["clientState"] == channel["client_state"] and len(sub["clientState"]) >= 32
    assert sub["notificationUrl"] == f"{app.base}/webhooks/calendar/{account_id}"
    assert sub["lifecycleNotificationUrl"] == sub["notificationUrl"]
    outlook_edit(app, calendar)
    app.emulator.settle()
    assert runner.requests == [(account_id, "push")]


def test_the_validation_token_is_echoed_as_text(app: App, people: People) -> None:
    _, account_id, _ = connected(app, people)
    token = "Validation: Testing client application reachability for subscription Request-Id: 42"
    reply = httpx.post(f"{app.base}/webhooks/calendar/{account_id}", params={"validationToken": token})
    assert reply.status_code == 200 and reply.text == token
    assert reply.headers["content-type"].startswith("text/plain")


def test_a_notification_without_the_secret_client_state_is_refused(app: App, people: People,
                                                                   runner: Recorder) -> None:
    _, account_id, _ = connected(app, people)
    channel = Channels(app.context).ensure(account_id)
    assert channel is not None
    runner.requests.clear()
    url = f"{app.base}/webhooks/calendar/{account_id}"
    for item in ({"subscriptionId": channel["id"], "clientState": "guessed", "changeType": "updated"},
                 {"subscriptionId": "someone-else", "clientState": channel["client_state"], "changeType": "updated"},
                 {"subscriptionId": channel["id"], "changeType": "updated"}):
        refused = httpx.post(url, json={"value": [item]})
        assert refused.status_code == 403, refused.text
    assert httpx.post(url, content=b"not json").status_code == 403
    assert runner.requests == []
    genuine = {"subscriptionId": channel["id"], "clientState": channel["client_state"], "changeType": "updated"}
    assert httpx.post(url, json={"value": [genuine]}).status_code == 200
    assert runner.requests == [(account_id, "push")]


def test_the_regular_pass_renews_a_subscription_before_it_expires(app: App, people: People) -> None:
    uid, account_id, _ = connected(app, people)
    first = Channels(app.context).ensure(account_id)
    assert first is not None
    expires = dt.datetime.fromtimestamp(first["expiration"] / 1000, UTC)
    mark = len(app.emulator.requests())
    assert Channels(app.context, clock=lambda: expires - dt.timedelta(days=1, minutes=5)).renew_due() == 0
    assert not [r for r in app.emulator.requests(mark) if "subscriptions" in r["path"]]  # not due yet
    Channels(app.context, clock=lambda: expires - dt.timedelta(hours=23)).renew_due()
    patches = [r for r in app.emulator.requests(mark) if "subscriptions" in r["path"]]
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in patches] == [("PATCH", first["id"])]
    renewed = app.stored(uid)["channel"]
    assert renewed["id"] == first["id"] and renewed["expiration"] >= first["expiration"]
    [sub] = subscriptions(app)
    assert sub["id"] == first["id"]


def test_lifecycle_events_reauthorize_recreate_and_request_a_sync(app: App, people: People, runner: Recorder) -> None:
    uid, account_id, calendar = connected(app, people)
    first = Channels(app.context).ensure(account_id)
    assert first is not None
    runner.requests.clear()

    app.emulator.post("/lifecycle", {"subscription_id": first["id"], "event": "reauthorizationRequired"})
    app.emulator.settle()
    until(lambda: not subscriptions(app)[0]["paused"], "the subscription reauthorized")
    assert runner.requests == [(account_id, "push")]

    app.emulator.post("/lifecycle", {"subscription_id": first["id"], "event": "missed"})
    app.emulator.settle()
    assert runner.requests == [(account_id, "push")] * 2

    app.emulator.post("/lifecycle", {"subscription_id": first["id"], "event": "subscriptionRemoved"})
    app.emulator.settle()
    second = until(lambda: [s for s in subscriptions(app) if s["id"] != first["id"]], "a new subscription")[0]
    until(lambda: app.stored(uid)["channel"]["id"] == second["id"], "the new subscription stored")
    assert app.stored(uid)["channel"]["client_state"] == second["clientState"]
    runner.requests.clear()
    outlook_edit(app, calendar, "After the removal")
    app.emulator.settle()
    assert runner.requests == [(account_id, "push")]


def test_switching_calendar_or_disconnecting_deletes_the_subscription(app: App, people: People) -> None:
    uid, account_id, calendar = connected(app, people)
    other = app.emulator.add_calendar(USERS[0], "Other")
    assert Channels(app.context).ensure(account_id) is not None and len(subscriptions(app)) == 1
    with httpx.Client(base_url=app.base, timeout=30, headers=people.headers("ann@example.com")) as api:
        assert api.patch("/api/v1/calendar-sync", json={"calendar_id": other}).status_code == 200
        assert subscriptions(app) == [] and "channel" not in app.stored(uid)
        assert Channels(app.context).ensure(account_id) is not None and len(subscriptions(app)) == 1
        assert subscriptions(app)[0]["resource"].endswith(f"/{other}/events")
        gone = api.delete("/api/v1/calendar-sync")
        assert gone.status_code in (200, 204), gone.text
    assert subscriptions(app) == []
