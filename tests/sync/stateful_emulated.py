"""The random-sequence machine shared by the Google and Microsoft providers on their emulators:
edits on both sides, injected server errors, throttling and expired sync tokens; after quiet syncs
both sides agree, nothing is duplicated, nothing deleted comes back, and a further sync writes
nothing. Each provider's test subclasses `CheckedMachine` and calls `run`."""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import shutil
import tempfile
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sqlalchemy import update

from calsync.config import Settings
from calsync.store import migrate
from calsync.store.tables import SyncAccount, User
from calsync.sync import accounts
from calsync.sync.model import Event
from calsync.sync.provider import Window
from calsync.web.context import AppContext
from tests.sync.harness import Harness

UTC = dt.timezone.utc
_counter = itertools.count()
_shared: dict[str, Any] = {}

idx = st.integers(0, 1000)


def shared_context() -> AppContext:
    if "context" not in _shared:
        folder = tempfile.mkdtemp(prefix="calsync-stateful-emulated-")
        atexit.register(shutil.rmtree, folder, True)
        url = f"sqlite:///{folder}/stateful.db"
        migrate.upgrade(url)
        _shared["context"] = AppContext.build(Settings(var_dir=folder, database_url=url, secret_key="k",  # type: ignore[arg-type]
                                                       embedded_dav=False, runner="none"))
    return _shared["context"]  # type: ignore[no-any-return]


def hour(n: int) -> dt.datetime:
    return dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=5 + n)


class EmulatedSyncMachine(RuleBasedStateMachine):
    """One provider on its emulator; a subclass names it (`label`, `letter`) and says how its
    harness and provider are made."""

    emu: Any
    provider_name = ""
    label = "the calendar"
    letter = "x"

    def make_side(self) -> Any:
        raise NotImplementedError

    def open_provider(self, credentials: dict[str, Any]) -> Any:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(shared_context())
        n = next(_counter)
        self.a = f"{self.letter}{n}@example.com"
        self.h.user(self.a)
        self.side = self.make_side()
        account_id = self.h.connect(self.a)
        with self.h.session() as s:
            s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(
                provider=self.provider_name, calendar_id=self.side.calendar_id))
        credentials = self.side.credentials

        def opener(account: Any) -> Any:
            provider = self.open_provider(credentials)
            provider.http.sleep = lambda seconds: None  # back-off without waiting
            return provider

        self.h.engine.opener = opener  # type: ignore[assignment]
        self.side.provider.http.sleep = lambda seconds: None  # type: ignore[attr-defined]
        self.names = itertools.count()
        self.deleted_uuids: set[str] = set()

    def teardown(self) -> None:
        self.emu.control.delete("/faults")
        self.side.close()

    def _name(self, base: str) -> str:
        return f"{base} {next(self.names)}"

    def _calendar_events(self) -> list[Event]:
        now = dt.datetime.now(UTC)
        window = Window(now - dt.timedelta(days=1), now + dt.timedelta(days=60))
        events, page = [], None
        while True:
            changes = self.side.provider.list_changes(self.side.calendar_id, None, window, page)
            events += changes.events
            page = changes.next_page
            if page is None:
                return events

    def _live(self) -> list[Any]:
        return self.h.activities(self.a)

    # ---------------------------------------------------------------- CRM side
    @rule(n=st.integers(0, 48))
    def crm_create(self, n: int) -> None:
        self.h.create(self.a, self._name("Call"), start=hour(n))

    @rule(i=idx)
    def crm_edit(self, i: int) -> None:
        live = self._live()
        if live:
            self.h.edit(self.a, live[i % len(live)].id, subject=self._name("Edited in CRM"))

    @rule(i=idx)
    def crm_delete(self, i: int) -> None:
        live = self._live()
        if live:
            target = live[i % len(live)]
            self.h.delete(self.a, target.id)
            self.deleted_uuids.add(target.uuid)

    # ---------------------------------------------------------------- calendar side
    @rule(n=st.integers(0, 48))
    def cal_create(self, n: int) -> None:
        self.side.put_single(self._name("Meeting"), hour(n), hour(n) + dt.timedelta(minutes=30))

    @rule(i=idx)
    def cal_edit(self, i: int) -> None:
        events = self._calendar_events()
        if events:
            self.side.edit_summary(events[i % len(events)].event_id, self._name(f"Edited in {self.label}"))

    @rule(i=idx)
    def cal_delete(self, i: int) -> None:
        events = self._calendar_events()
        if events:
            self.side.delete(events[i % len(events)].event_id)

    # ---------------------------------------------------------------- the wire
    @rule(status=st.sampled_from([500, 503, 429]), methods=st.sampled_from([["GET"], ["POST"], ["PATCH"], ["DELETE"]]),
          count=st.integers(1, 6))
    def sync_through_faults(self, status: int, methods: list[str], count: int) -> None:
        """The next `count` matching calls fail (the provider retries three times, then gives up)."""
        self.emu.post("/faults", {"status": status, "count": count, "methods": methods})
        try:
            summary = self.h.sync(self.a)
        finally:
            self.emu.control.delete("/faults")
        assert summary.status in ("ok", "provider_error", "needs_confirmation"), summary.line()

    @rule()
    def expire_sync_tokens(self) -> None:
        self.emu.post("/expire-sync-tokens")

    @rule()
    def sync(self) -> None:
        summary = self.h.sync(self.a)
        assert summary.status in ("ok", "needs_confirmation"), summary.line()

    # ---------------------------------------------------------------- the check
    def _quiet(self) -> Any:
        self.emu.control.delete("/faults")
        # A deletion that failed waits in the outbox for its retry time (up to an hour later):
        # the quiet runs happen after it, as they would on a real schedule.
        self.h.engine.clock = lambda: dt.datetime.now(UTC) + dt.timedelta(hours=1)
        summary = None
        for _ in range(4):
            summary = self.h.sync(self.a)
            if summary.status == "needs_confirmation":
                with self.h.session() as s:
                    accounts.decide_deletions(s, s.get(User, self.h.users[self.a]), "confirmed")
                continue
            assert summary.status == "ok", summary.line()
            if summary.writes == 0:
                return summary
        raise AssertionError(f"no quiet sync after four runs: {summary.line() if summary else None}")

    def check(self) -> None:
        self._quiet()
        events = self._calendar_events()
        live = self._live()
        by_uuid: dict[str, int] = {}
        for event in events:
            if event.activity_uuid:
                by_uuid[event.activity_uuid] = by_uuid.get(event.activity_uuid, 0) + 1
        assert all(n == 1 for n in by_uuid.values()), f"duplicate events for one activity: {by_uuid}"
        assert not (set(by_uuid) & self.deleted_uuids), f"an activity deleted in the CRM came back in {self.label}"
        assert sorted(a.subject for a in live) == sorted(e.summary for e in events), \
            f"the sides differ: CRM {sorted(a.subject for a in live)} {self.label} {sorted(e.summary for e in events)}"
        assert not {a.uuid for a in self.h.activities(self.a, deleted=False)} & self.deleted_uuids


class CheckedMachine(EmulatedSyncMachine):
    def teardown(self) -> None:
        try:
            self.check()
        finally:
            super().teardown()


def run(machine: type[CheckedMachine], emu: Any, examples: int) -> None:
    """Runs `machine` against `emu` (password hashing skipped: thousands of throw-away users)."""
    machine.emu = emu
    with mock.patch("calsync.crm.services.accounts.hash_password", lambda password: "scrypt$00$00"):
        run_state_machine_as_test(
            machine,
            settings=settings(max_examples=examples, stateful_step_count=12, deadline=None,
                              suppress_health_check=list(HealthCheck), print_blob=True),
        )
