"""Push channels live on their own schedule: the runner's regular pass renews a channel before
it expires even when the account's runs fail, and choosing another calendar, connecting again or
disconnecting stops the channel at once (the clock is injected; nothing sleeps)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from calsync.jobs.push import Channels
from calsync.jobs.runner import EmbeddedRunner
from calsync.sync.summary import RunSummary
from tests.conftest import People
from tests.google.conftest import App, follow_consent
from tests.support.google_emulator import USERS

UTC = dt.timezone.utc


class FailingEngine:
    """Every run ends in a provider error (Google answering 5xx, say)."""

    def run(self, account_id: int, **_: Any) -> RunSummary:
        return RunSummary(account_id, status="provider_error", message="Google Calendar answered 503")


def channel_of(app: App, user_id: int) -> dict[str, Any] | None:
    account = app.account(user_id)
    assert account is not None
    return json.loads(app.context.box.decrypt(account.credentials_encrypted)).get("channel")  # type: ignore[no-any-return]


def calls(app: App, since: int, suffix: str) -> list[dict[str, Any]]:
    return [r for r in app.emulator.requests(since) if r["path"].endswith(suffix)]


def mark(app: App) -> int:
    log = app.emulator.requests()
    return int(log[-1]["seq"]) if log else 0


def connected(app: App, people: People) -> tuple[int, int, httpx.Client, dict[str, str]]:
    """ann connected through OAuth, her primary calendar chosen, a channel open (as after her
    first successful run)."""
    uid = people.add("ann@example.com")
    browser = app.browser("ann@example.com")
    assert follow_consent(app, browser).status_code == 303
    api = {"X-Api-Token": people.tokens["ann@example.com"]}
    assert browser.patch("/api/v1/calendar-sync", json={"calendar_id": USERS[0]}, headers=api).status_code == 200
    account_id = app.account(uid).id  # type: ignore[union-attr]
    assert Channels(app.context).ensure(account_id) is not None
    return uid, account_id, browser, api


def test_a_channel_is_renewed_before_it_expires_while_the_runs_fail(app: App, people: People) -> None:
    uid, account_id, _, _ = connected(app, people)
    first = channel_of(app, uid)
    assert first is not None
    expires = dt.datetime.fromtimestamp(int(first["expiration"]) / 1000, UTC)
    now = [expires - dt.timedelta(days=3)]
    runner = EmbeddedRunner(app.context, engine=FailingEngine(), interval=3600)  # type: ignore[arg-type]
    runner.channels = Channels(app.context, clock=lambda: now[0])

    runner._run(account_id, "schedule")
    before = mark(app)
    runner.round()  # three days left: nothing to do
    assert calls(app, before, "/watch") == [] and channel_of(app, uid) == first

    now[0] = expires - dt.timedelta(hours=12)  # inside the renewal margin; the runs still fail
    runner._run(account_id, "retry")
    assert runner.history[-1].status == "provider_error"
    runner.round()
    renewed = channel_of(app, uid)
    assert renewed is not None and renewed["id"] != first["id"] and renewed["calendar_id"] == USERS[0]
    assert [r["status"] for r in calls(app, before, "/watch")] == [200]
    assert [(r["status"], r["body"]["id"]) for r in calls(app, before, "/channels/stop")] == [(204, first["id"])]


def test_choosing_another_calendar_stops_the_channel_at_once(app: App, people: People) -> None:
    uid, _, browser, api = connected(app, people)
    first = channel_of(app, uid)
    assert first is not None
    other = app.emulator.post("/calendars", {"user": USERS[0], "summary": "Sales"})["id"]
    before = mark(app)
    assert browser.patch("/api/v1/calendar-sync", json={"sync_type": "one_way"}, headers=api).status_code == 200
    assert calls(app, before, "/channels/stop") == [] and channel_of(app, uid) == first  # other settings: kept
    assert browser.patch("/api/v1/calendar-sync", json={"calendar_id": other}, headers=api).status_code == 200
    assert [(r["status"], r["body"]["id"]) for r in calls(app, before, "/channels/stop")] == [(204, first["id"])]
    assert channel_of(app, uid) is None


def test_connecting_again_stops_the_old_channel(app: App, people: People) -> None:
    uid, _, browser, _ = connected(app, people)
    first = channel_of(app, uid)
    assert first is not None
    before = mark(app)
    assert follow_consent(app, browser).status_code == 303
    assert [(r["status"], r["body"]["id"]) for r in calls(app, before, "/channels/stop")] == [(204, first["id"])]
