"""With `CALSYNC_BROKER_URL` set the web app only enqueues: a CRM change made through the API
reaches the user's Radicale calendar through a `calsync worker`, and the web process itself
never runs a sync (sync now, resync and push included)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from calsync.config import Settings
from calsync.crm.services import accounts
from calsync.jobs.queue import QueuedScheduler
from calsync.store.db import session_scope
from calsync.sync.engine import SyncEngine
from tests.scaleout.dav import eventually, titles
from tests.support.radicale import DavServer
from tests.support.scaleout import ScaleOut

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _finished_runs(context: Any, account_id: int) -> int:
    from sqlalchemy import func, select

    from calsync.store.tables import SyncRun

    with session_scope(context.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.account_id == account_id, SyncRun.status != "running")) or 0)


@pytest.fixture
def runs_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every sync run started in this (the web) process."""
    started: list[int] = []
    real = SyncEngine.run

    def spy(self: SyncEngine, account_id: int, **kwargs: Any) -> Any:
        started.append(account_id)
        return real(self, account_id, **kwargs)

    monkeypatch.setattr(SyncEngine, "run", spy)
    return started


@pytest.fixture
def web(scaled_settings: Settings, runs_here: list[int]) -> Iterator[tuple[httpx.Client, Any]]:
    from calsync.web.app import create_app
    from tests.support.live import serve

    app = create_app(scaled_settings)
    context = app.state.context
    with session_scope(context.sessions) as session:
        _user, token = accounts.add_user(session, context.box, email="ann@example.com", password="password-123",
                                         company_name="Acme")
    with serve(app) as base, httpx.Client(base_url=base, headers={"X-Api-Token": token}, timeout=60) as client:
        yield client, context


def test_a_crm_change_reaches_the_calendar_through_a_worker_and_the_web_runs_no_sync(
        web: tuple[httpx.Client, Any], dav: DavServer, cluster: ScaleOut, runs_here: list[int]) -> None:
    client, context = web
    assert isinstance(context.extras["runner"], QueuedScheduler)
    dav.make_calendar("u1", "work")
    connected = client.post("/api/v1/calendar-sync/connect", json={
        "provider": "caldav", "url": dav.url, "username": "u1", "password": "u1-pass-1", "calendar": "work"})
    assert connected.status_code == 201, connected.text
    account_id = connected.json()["data"]["id"]
    assert account_id in QueuedScheduler.from_url(context.settings.broker_url).pending()  # queued, not run here
    cluster.env["CALSYNC_CALDAV_POLL_SECONDS"] = "3600"  # no poll comes to the rescue within the test
    cluster.worker(concurrency=2)
    cluster.scheduler()
    queue = QueuedScheduler.from_url(context.settings.broker_url)

    def settled() -> bool:
        later = time.time() + 60
        return _finished_runs(context, account_id) >= 1 and all(due > later for due, _ in queue.pending().values())

    eventually(settled, 30, "the first sync (connect, and the scheduler's first round)", logs=cluster.logs)
    assert queue.pending()[account_id][1] == "poll"  # an external CalDAV account: its next poll slot is booked
    # nothing is due for minutes now (round, poll): only the change's request can sync it
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
    made = client.post("/api/v1/activities", json={"subject": "Call with Bea", "type": "call", "start": start.isoformat(),
                                                    "end": (start + dt.timedelta(hours=1)).isoformat()})
    assert made.status_code == 201, made.text
    eventually(lambda: titles(dav, "u1", "work") == ["Call with Bea"], 30, "the CRM change in Radicale",
               logs=cluster.logs)
    # "sync now" (with and without waiting) and a resync: run by a worker, awaited here
    waited = client.post("/api/v1/calendar-sync/sync", params={"wait": "true"})
    assert waited.status_code == 200 and waited.json()["data"]["status"] == "ok", waited.text
    resynced = client.post("/api/v1/calendar-sync/resync", params={"wait": "true"})
    assert resynced.status_code == 200 and resynced.json()["data"]["status"] == "ok", resynced.text
    assert client.post("/api/v1/calendar-sync/sync", params={"full": "true"}).status_code == 202
    assert runs_here == []
    assert titles(dav, "u1", "work") == ["Call with Bea"]


def test_push_and_api_requests_enqueue_even_in_an_app_part_without_its_runner(scaled_context: Any) -> None:
    """The webhook receiver and the sync API fall back to a thread only without a broker."""
    from calsync.web import webhooks
    from calsync.web.api import calendar_sync

    webhooks._request_sync(scaled_context, 5)
    scaled_context.extras.pop("runner", None)
    calendar_sync._request_sync(scaled_context, 6, "start")
    pending = QueuedScheduler.from_url(scaled_context.settings.broker_url).pending()
    assert {5: "push", 6: "start"} == {account: reason for account, (_due, reason) in pending.items()}
    assert "sync_engine" not in scaled_context.extras  # no engine was ever made in this process


def test_the_webs_own_calendar_requests_count_against_the_limit_the_workers_share(
        web: tuple[httpx.Client, Any], dav: DavServer) -> None:
    import redis

    from calsync.jobs.ratelimit import PREFIX
    from calsync.providers import gate

    client, context = web
    store = redis.Redis.from_url(context.settings.broker_url)
    store.delete(PREFIX + "caldav")
    dav.make_calendar("u1", "home")
    connected = client.post("/api/v1/calendar-sync/connect", json={
        "provider": "caldav", "url": dav.url, "username": "u1", "password": "u1-pass-1", "calendar": "home"})
    assert connected.status_code == 201, connected.text
    assert store.exists(PREFIX + "caldav"), "connecting took no token from the shared CalDAV bucket"
    assert not isinstance(gate.current(), gate.Unlimited)


def test_the_shared_limit_is_lifted_when_the_app_stops(scaled_settings: Settings) -> None:
    from calsync.providers import gate
    from calsync.web.app import create_app
    from tests.support.live import serve

    with serve(create_app(scaled_settings)):
        assert not isinstance(gate.current(), gate.Unlimited)
    assert isinstance(gate.current(), gate.Unlimited)  # the other tests of this process run unlimited
