"""Accounts on external CalDAV servers (no push) are polled every CALSYNC_CALDAV_POLL_SECONDS, each
at its own slot so they do not fire together; the built-in calendar and pushing providers are
not. Driven by an injected clock: the runner's thread never starts, `run_due` runs what is due."""

from __future__ import annotations

from collections import Counter
from typing import Any

from calsync.jobs.polling import next_poll, slot
from calsync.jobs.runner import EmbeddedRunner
from calsync.store.tables import User
from calsync.sync import accounts as sync_accounts
from calsync.sync.model import CalendarInfo
from calsync.sync.summary import RunSummary
from tests.sync.harness import Harness


class Clock:
    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingEngine:
    """Stands in for the sync engine: every run is an idle, successful one, noted with its time."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.runs = clock, []  # type: ignore[var-annotated]

    def run(self, account_id: int, trigger: str = "") -> RunSummary:
        self.runs.append((self.clock(), account_id, trigger))
        return RunSummary(account_id, status="ok")


def connect(h: Harness, email: str, provider: str, creds: dict[str, Any]) -> int:
    h.user(email)
    with h.session() as s:
        calendar = CalendarInfo(id=f"https://cal.example/{email}/work/", name="Work", writable=True, primary=True)
        return sync_accounts.store_connection(s, h.context.box, s.get(User, h.users[email]), provider, email,
                                              creds, [calendar], wanted=calendar.id, explicit=True).id


def run_for(runner: EmbeddedRunner, clock: Clock, seconds: int) -> None:
    for _ in range(seconds):
        clock.now += 1
        runner.run_due()


def test_external_caldav_accounts_are_polled_every_minute_each_at_its_own_slot(h: Harness) -> None:
    clock = Clock()
    engine = CountingEngine(clock)
    runner = EmbeddedRunner(h.context, engine, interval=3600, poll=60, clock=clock)  # type: ignore[arg-type]
    external = [connect(h, f"user{i}@example.com", "caldav", {"url": "https://cal.example/", "username": "u", "password": "p"})
                for i in range(12)]
    builtin = connect(h, "bob@example.com", "caldav", {"url": "http://127.0.0.1:8000/dav/", "embedded": True})
    google = connect(h, "gus@example.com", "google", {"refresh_token": "t"})

    runner._schedule_all(initial=True)  # what start() does: every account once, within 3 s
    run_for(runner, clock, 3)
    assert {a for _, a, why in engine.runs if why == "schedule"} == set(external + [builtin, google])
    engine.runs.clear()

    run_for(runner, clock, 600)  # ten minutes, the hourly schedule far away
    polls = [(t, a) for t, a, why in engine.runs if why == "poll"]
    assert {a for _, a in polls} == set(external)  # neither the built-in calendar nor Google is polled
    assert len(engine.runs) == len(polls)
    for account_id in external:
        times = [t for t, a in polls if a == account_id]
        assert len(times) == 10
        assert all(later - earlier == 60 for earlier, later in zip(times, times[1:]))
    # Spread: twelve accounts land on (almost) twelve different seconds of the minute.
    seconds = Counter(int(t) % 60 for t, _ in polls[:12])
    assert len(seconds) >= 10 and max(seconds.values()) <= 2


def test_a_poll_slot_is_the_same_for_an_account_after_a_restart_and_spreads_accounts() -> None:
    assert slot(7, 60) == slot(7, 60) and 0 <= slot(7, 60) < 60
    assert next_poll(7, 60, 1000.0) > 1000.0 and next_poll(7, 60, 1000.0) - 1000.0 <= 60
    assert (next_poll(7, 60, 1000.0) - slot(7, 60)) % 60 == 0
    offsets = [slot(a, 60) for a in range(1, 1001)]
    per_second = Counter(int(o) for o in offsets)
    assert len(per_second) == 60 and max(per_second.values()) < 35  # about 17 a second, none piled up


def test_a_failing_external_account_keeps_its_backoff_not_the_poll(h: Harness) -> None:
    clock = Clock()

    class Failing(CountingEngine):
        def run(self, account_id: int, trigger: str = "") -> RunSummary:
            super().run(account_id, trigger)
            return RunSummary(account_id, status="provider_error")

    engine = Failing(clock)
    runner = EmbeddedRunner(h.context, engine, interval=3600, poll=60, retry_base=300, clock=clock)  # type: ignore[arg-type]
    account = connect(h, "eve@example.com", "caldav", {"url": "https://cal.example/", "username": "u", "password": "p"})
    runner.request_sync(account, "manual")
    run_for(runner, clock, 140)  # two poll periods; the retry's jittered backoff is 150–300 s
    assert [why for _, _, why in engine.runs] == ["manual"]  # the next try waits for the backoff, not the next poll


def test_the_settings_say_how_soon_calendar_changes_arrive(h: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from calsync.jobs import freshness
    from calsync.store.tables import SyncAccount

    monkeypatch.setattr(h.context.settings, "runner", "embedded")
    monkeypatch.setattr(h.context.settings, "embedded_dav", True)
    external = connect(h, "carol@example.com", "caldav", {"url": "https://cal.example/", "username": "u", "password": "p"})
    builtin = connect(h, "bob@example.com", "caldav", {"url": "http://127.0.0.1:8000/dav/", "embedded": True})
    google = connect(h, "gus@example.com", "google", {"refresh_token": "t"})

    def arrive(account_id: int) -> dict | None:  # type: ignore[type-arg]
        with h.session() as s:
            return freshness.changes_arrive(h.context, s.get(SyncAccount, account_id))

    assert arrive(builtin) == {"within": "seconds", "minutes": 0}
    assert arrive(external) == {"within": "minute", "minutes": 1}
    assert arrive(google) == {"within": "minutes", "minutes": 5}  # Google cannot reach 127.0.0.1: the schedule
    monkeypatch.setattr(freshness.Channels, "reachable", lambda self, account: True)
    assert arrive(google) == {"within": "seconds", "minutes": 0}  # a public address: Google pushes
    monkeypatch.setattr(h.context.settings, "caldav_poll_seconds", 180)
    assert arrive(external) == {"within": "minutes", "minutes": 3}
