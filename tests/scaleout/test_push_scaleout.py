"""Push in scale-out mode, for Google and for Microsoft: the web app (Uvicorn in this process, with
a broker) only enqueues; one `calsync worker` runs every sync and one `calsync scheduler` turns
the queue into tasks, with the regular schedule an hour apart. The emulators run here and POST
their notifications to the web app on 127.0.0.1.

- after connecting, the worker's first good run opens the channel: the emulator has a watch
  channel (Google) or a subscription (Microsoft) to the app's /webhooks/calendar/{id};
- an event made in the calendar reaches the CRM within seconds: notification → the web app's
  receiver enqueues → the worker's run (its trigger is "push"; nothing else is due for an hour);
- a channel an hour from expiry is renewed by the `calsync.renew_channels` task the scheduler sends
  with its round, on the worker, while every sync run of the account fails (the calendar
  answering 503): the renewal never waits for a good run;
- disconnecting through the API stops the channel at the emulator."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from calsync.crm.services import accounts
from calsync.jobs.queue import QueuedScheduler
from calsync.store.db import session_scope
from calsync.store.tables import Activity, SyncAccount, SyncRun
from calsync.sync import registry
from calsync.sync.credentials import merge_stored
from calsync.sync.engine import SyncEngine
from tests.conftest import _settings
from tests.scaleout.dav import eventually
from tests.support.live import serve
from tests.support.ports import free_port
from tests.support.scaleout import ScaleOut

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
UTC = dt.timezone.utc
EMAIL, PASSWORD = "ann@example.com", "password-123"
HOUR = 3600
DAY_MS = 86_400_000


class Side:
    """One provider's emulator as a test sees it: connect, write an event, what channels it has open."""

    kind = ""

    def __init__(self, base: str) -> None:
        self.base = base
        self.emu: Any = None
        self.calendar = ""

    def emulator(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def factory(self, settings: Any) -> Any:
        raise NotImplementedError

    def choose_calendar(self, api: httpx.Client) -> str:
        raise NotImplementedError

    def write(self, summary: str, start: dt.datetime) -> None:
        raise NotImplementedError

    def open_channels(self) -> dict[str, str]:
        """{channel or subscription id: the address it POSTs to}, as the emulator has them."""
        raise NotImplementedError

    def renewal_calls(self, since: int, channel: dict[str, Any]) -> list[str]:
        """The requests since `since` that renewed `channel` (one line each)."""
        raise NotImplementedError

    def mark(self) -> int:
        log = self.emu.requests()
        return int(log[-1]["seq"]) if log else 0

    def fail_event_reads(self) -> None:
        """The calendar's events cannot be read (503 on every GET of them, Google's events and
        Graph's calendarView delta): every sync run fails."""
        self.emu.post("/faults", {"status": 503, "count": 100_000, "methods": ["GET"], "path": "/events|/calendarView"})

    def heal(self) -> None:
        self.emu.control.delete("/faults").raise_for_status()


class GoogleSide(Side):
    kind = "google"

    def emulator(self) -> AbstractContextManager[Any]:
        from calsync.emulators.google import EmulatorConfig
        from tests.support.google_emulator import USERS, google_emulator

        self.calendar = USERS[0]  # the primary calendar's id is the address
        return google_emulator(EmulatorConfig(users=list(USERS), redirect_uris=[self.base + "/oauth/google/callback"]))

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.emu.settings(self.base).model_dump().items() if k.startswith("google_")}

    def factory(self, settings: Any) -> Any:
        from calsync.providers.google.factory import GoogleFactory

        return GoogleFactory(lambda: settings)

    def choose_calendar(self, api: httpx.Client) -> str:
        return self.calendar

    def write(self, summary: str, start: dt.datetime) -> None:
        made = self.emu.client(self.calendar).post(f"/calendars/{self.calendar}/events", json={
            "summary": summary, "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat()}})
        assert made.status_code == 200, made.text

    def open_channels(self) -> dict[str, str]:
        opened: dict[str, str] = {}
        for entry in self.emu.requests():
            body = entry["body"] if isinstance(entry["body"], dict) else {}
            if entry["method"] == "POST" and entry["path"].endswith("/events/watch") and entry["status"] == 200:
                opened[body["id"]] = body["address"]
            elif entry["path"].endswith("/channels/stop") and entry["status"] == 204:
                opened.pop(body["id"], None)
        return opened

    def renewal_calls(self, since: int, channel: dict[str, Any]) -> list[str]:
        """Google channels cannot be extended: a new one is opened and the old one stopped."""
        return [f"{e['method']} {e['path'].rsplit('/', 1)[-1]} {e['status']}" for e in self.emu.requests(since)
                if e["method"] == "POST" and (e["path"].endswith("/events/watch") or (
                    e["path"].endswith("/channels/stop") and e["body"].get("id") == channel["id"]))]


class MicrosoftSide(Side):
    kind = "microsoft"

    def emulator(self) -> AbstractContextManager[Any]:
        from calsync.emulators.microsoft import EmulatorConfig
        from tests.support.microsoft_emulator import USERS, microsoft_emulator

        self.user = USERS[0]
        return microsoft_emulator(EmulatorConfig(users=list(USERS), redirect_uris=[self.base + "/oauth/microsoft/callback"]))

    def settings(self) -> dict[str, Any]:
        config = self.emu.config
        return {"microsoft_client_id": config.client_id, "microsoft_client_secret": config.client_secret,
                "microsoft_tenant": config.tenant, "microsoft_graph_url": self.emu.base,
                "microsoft_login_url": self.emu.base}

    def factory(self, settings: Any) -> Any:
        from calsync.providers.microsoft.factory import MicrosoftFactory

        return MicrosoftFactory(lambda: settings)

    def choose_calendar(self, api: httpx.Client) -> str:
        listed = api.get("/api/v1/calendar-sync/calendars")
        assert listed.status_code == 200, listed.text
        self.calendar = str(listed.json()["data"][0]["id"])
        return self.calendar

    def write(self, summary: str, start: dt.datetime) -> None:
        fmt = "%Y-%m-%dT%H:%M:%S"
        made = self.emu.client(self.user).post(f"/me/calendars/{self.calendar}/events", json={
            "subject": summary, "start": {"dateTime": start.strftime(fmt), "timeZone": "UTC"},
            "end": {"dateTime": (start + dt.timedelta(hours=1)).strftime(fmt), "timeZone": "UTC"}})
        assert made.status_code == 201, made.text

    def open_channels(self) -> dict[str, str]:
        subscriptions = self.emu.control.get("/subscriptions").json()["subscriptions"]
        return {s["id"]: s["notificationUrl"] for s in subscriptions}

    def renewal_calls(self, since: int, channel: dict[str, Any]) -> list[str]:
        """A Graph subscription keeps its id: its expiry is moved out (PATCH)."""
        return [f"{e['method']} subscriptions/{channel['id']} {e['status']}" for e in self.emu.requests(since)
                if e["method"] == "PATCH" and e["path"].endswith(f"/subscriptions/{channel['id']}")]


@dataclass
class Stack:
    """The web app with a broker, the emulator it is wired to, and the worker/scheduler processes."""

    base: str
    context: Any
    side: Side
    api: httpx.Client
    browser: httpx.Client
    user_id: int
    cluster: ScaleOut
    runs_here: list[int] = field(default_factory=list)

    def account_id(self) -> int:
        with session_scope(self.context.sessions) as session:
            found = session.scalar(select(SyncAccount.id).where(SyncAccount.user_id == self.user_id))
            assert found is not None
            return int(found)

    def channel(self, account_id: int) -> dict[str, Any] | None:
        with session_scope(self.context.sessions) as session:
            account = session.get(SyncAccount, account_id)
            if account is None:
                return None
            return json.loads(self.context.box.decrypt(account.credentials_encrypted)).get("channel")  # type: ignore[no-any-return]

    def runs(self, account_id: int, after: int = 0) -> list[tuple[int, str, str]]:
        """(id, trigger, status) of the account's runs after run `after`."""
        with session_scope(self.context.sessions) as session:
            return [(r.id, r.trigger, r.status) for r in session.scalars(
                select(SyncRun).where(SyncRun.account_id == account_id, SyncRun.id > after).order_by(SyncRun.id))]

    def last_run(self) -> int:
        with session_scope(self.context.sessions) as session:
            return int(session.scalar(select(func.max(SyncRun.id))) or 0)

    def subjects(self) -> list[str]:
        with session_scope(self.context.sessions) as session:
            return sorted(a.subject for a in session.scalars(select(Activity).where(
                Activity.owner_id == self.user_id, Activity.deleted.is_(False))))

    def quiet(self, account_id: int) -> bool:
        """No run going on and nothing asked for within the next minute (only push can sync now)."""
        pending = QueuedScheduler.from_url(self.context.settings.broker_url).pending()
        soon = time.time() + 60
        return (all(status != "running" for _, _, status in self.runs(account_id))
                and all(due > soon for due, _ in pending.values()))


def follow_consent(stack_base: str, side: Side, browser: httpx.Client) -> None:
    """Connect → the emulator's consent page → Allow → callback, as a browser follows it."""
    start = browser.get(f"/oauth/{side.kind}/start")
    assert start.status_code == 302, start.text
    location = side.emu.consent(start.headers["location"])
    assert location.startswith(stack_base + f"/oauth/{side.kind}/callback")
    done = browser.get(location)
    assert done.status_code == 303, done.text


@pytest.fixture(params=["google", "microsoft"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str, broker: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    import re

    from calsync.web.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    side: Side = GoogleSide(base) if request.param == "google" else MicrosoftSide(base)
    runs_here: list[int] = []
    real_run = SyncEngine.run

    def spy(self: SyncEngine, account_id: int, **kwargs: Any) -> Any:
        runs_here.append(account_id)
        return real_run(self, account_id, **kwargs)

    monkeypatch.setattr(SyncEngine, "run", spy)  # every run started in this (the web) process
    with ExitStack() as stack:
        side.emu = stack.enter_context(side.emulator())
        provider = side.settings()
        settings = _settings(tmp_path, pg_url, broker_url=broker, public_url=base, sync_interval_seconds=HOUR,
                             allow_private_calendar_hosts=True, **provider)
        previous = registry.get(side.kind)
        registry.register(side.factory(settings))
        stack.callback(registry.register, previous)
        app = create_app(settings)
        stack.enter_context(serve(app, port=port))
        context = app.state.context
        with session_scope(context.sessions) as session:
            user, token = accounts.add_user(session, context.box, email=EMAIL, password=PASSWORD, company_name="Acme")
            user_id = user.id
        api = stack.enter_context(httpx.Client(base_url=base, headers={"X-Api-Token": token}, timeout=60))
        browser = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        page = browser.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert browser.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf,
                                            "next": "/calendar"}).status_code == 303
        env = {f"CALSYNC_{key.upper()}": str(value) for key, value in provider.items()}
        env.update(CALSYNC_PUBLIC_URL=base, CALSYNC_SYNC_INTERVAL_SECONDS=str(HOUR),
                   CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS="true")
        cluster = stack.enter_context(ScaleOut(pg_url, broker, env=env, log_dir=tmp_path / "scaleout"))
        yield Stack(base, context, side, api, browser, user_id, cluster, runs_here)


def wait(check: Callable[[], Any], timeout: float, what: str, stack: Stack) -> Any:
    return eventually(check, timeout, what, logs=stack.cluster.logs)


def connect(stack: Stack) -> tuple[int, str]:
    """Ann connects through OAuth and chooses her calendar; returns the account and calendar."""
    follow_consent(stack.base, stack.side, stack.browser)
    calendar = stack.side.choose_calendar(stack.api)
    chosen = stack.api.patch("/api/v1/calendar-sync", json={"calendar_id": calendar})
    assert chosen.status_code == 200, chosen.text
    return stack.account_id(), calendar


def test_push_channels_are_opened_used_renewed_and_stopped_by_the_workers(stack: Stack) -> None:
    side, api = stack.side, stack.api
    account_id, calendar = connect(stack)
    address = f"{stack.base}/webhooks/calendar/{account_id}"
    assert side.open_channels() == {} and stack.channel(account_id) is None  # connecting opens none in the web

    # (1) the worker's first good run opens the channel
    stack.cluster.worker(concurrency=2)
    first_scheduler = stack.cluster.scheduler()
    channel = wait(lambda: stack.channel(account_id), 30, "a channel after the first run", stack)
    assert any(status == "ok" for _, _, status in stack.runs(account_id))
    assert side.open_channels() == {channel["id"]: address}
    assert channel["calendar_id"] == calendar

    # (2) a change in the calendar reaches the CRM by notification, within seconds
    wait(lambda: stack.quiet(account_id), 30, "no run going on and none due within a minute", stack)
    before = stack.last_run()
    start = (dt.datetime.now(UTC) + dt.timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    written = time.monotonic()
    side.write("Pushed in", start)
    wait(lambda: "Pushed in" in stack.subjects(), 15, "the calendar's change in the CRM", stack)
    took = time.monotonic() - written
    print(f"{side.kind}: calendar → CRM through push on a worker in {took:.2f} s")
    assert took < 10
    assert ("push", "ok") in [(trigger, status) for _, trigger, status in stack.runs(account_id, after=before)]

    # (3) a channel an hour from expiry is renewed by the scheduler's renew_channels task on the
    # worker, while every run of the account fails (so no after-run step can be what renews it)
    wait(lambda: stack.quiet(account_id), 30, "quiet after the pushed change", stack)
    first_scheduler.stop()
    channel = stack.channel(account_id)
    assert channel is not None
    side.fail_event_reads()
    soon = int(time.time() * 1000) + HOUR * 1000  # as after days of running: the channel expires in an hour
    merge_stored(stack.context.box, stack.context.sessions, account_id, {"channel": {**channel, "expiration": soon}})
    mark, before = side.mark(), stack.last_run()
    stack.cluster.scheduler()  # a newly active scheduler starts with a round, as every interval after
    renewed = wait(lambda: (found := stack.channel(account_id)) and found["expiration"] > time.time() * 1000 + DAY_MS
                   and found, 30, "the channel renewed", stack)
    assert side.renewal_calls(mark, channel), side.emu.requests(mark)
    assert side.open_channels() == {renewed["id"]: address}
    if side.kind == "google":  # a new channel; the old one stopped
        assert renewed["id"] != channel["id"]
    else:  # the same subscription, its expiry moved out
        assert renewed["id"] == channel["id"]
    wait(lambda: any(status == "provider_error" for _, _, status in stack.runs(account_id, after=before)), 30,
         "the round's run of the account, failing", stack)
    assert all(status != "ok" for _, _, status in stack.runs(account_id, after=before)), stack.runs(account_id, before)
    side.heal()

    # (4) disconnecting through the API stops the channel at the emulator
    gone = api.delete("/api/v1/calendar-sync")
    assert gone.status_code == 200, gone.text
    assert side.open_channels() == {}
    assert stack.runs_here == []  # the web process ran no sync


def test_a_lost_notification_is_covered_by_the_schedulers_rounds(stack: Stack) -> None:
    """The scheduler's regular round (every 3 s here) brings in a change whose notification the
    provider never delivered."""
    side = stack.side
    account_id, _ = connect(stack)
    stack.cluster.worker(concurrency=2)
    stack.cluster.scheduler(env={"CALSYNC_SYNC_INTERVAL_SECONDS": "3"})
    wait(lambda: stack.channel(account_id), 30, "a channel after the first run", stack)
    wait(lambda: all(status != "running" for _, _, status in stack.runs(account_id)), 30, "the first run over", stack)
    delivered = len(side.emu.control.get("/notifications").json()["notifications"])
    side.emu.post("/notifications", {"drop_next": 1})
    before = stack.last_run()
    start = (dt.datetime.now(UTC) + dt.timedelta(days=3)).replace(hour=11, minute=0, second=0, microsecond=0)
    written = time.monotonic()
    side.write("Never notified", start)
    wait(lambda: "Never notified" in stack.subjects(), 20, "the change in the CRM by the schedule", stack)
    print(f"{side.kind}: a change whose notification was lost, in the CRM in {time.monotonic() - written:.2f} s")
    sent = side.emu.control.get("/notifications").json()["notifications"][delivered:]
    assert [n["outcome"] for n in sent] == ["dropped"], sent  # the change's one notification was lost
    triggers = {trigger for _, trigger, _ in stack.runs(account_id, after=before)}
    assert "push" not in triggers and "schedule" in triggers, triggers
    assert stack.runs_here == []
