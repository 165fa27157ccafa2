"""Random sequences of edits on both sides, settings changes, faults and crashes; after a quiet
sync the invariants hold. CALSYNC_SOAK_EXAMPLES sets the number of examples (`make soak`: 10000)."""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import os
import shutil
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from calsync.config import Settings
from calsync.crm.errors import CrmError
from calsync.store import migrate
from calsync.store.tables import Activity, SyncAccount, SyncOutbox
from calsync.sync.mapping import fields_of, to_crm
from calsync.sync.model import Event
from calsync.sync.reconcile import mode_for
from calsync.web.context import AppContext
from tests.sync.harness import Harness

UTC = dt.timezone.utc
EXAMPLES = int(os.environ.get("CALSYNC_SOAK_EXAMPLES", "500"))
WRITES = ("create_event", "update_event", "delete_event")
_counter = itertools.count()
_context: AppContext | None = None


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the engine may catch it)."""


def shared_context() -> AppContext:
    """One migrated SQLite database for all examples; each example uses fresh users."""
    global _context
    if _context is None:
        folder = tempfile.mkdtemp(prefix="calsync-stateful-")
        atexit.register(shutil.rmtree, folder, True)
        url = f"sqlite:///{folder}/stateful.db"
        migrate.upgrade(url)
        _context = AppContext.build(Settings(var_dir=folder, database_url=url, secret_key="k", embedded_dav=False, runner="none"))  # type: ignore[arg-type]
    return _context


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


idx = st.integers(0, 1000)
words = st.sampled_from(["Call Bob", "Lunch", "Demo", "Review  ", "Plan\tQ3", "Visit ACME", "Standup", "<b>Pitch</b>"])
types = st.sampled_from(["call", "meeting", "task", "lunch"])


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(shared_context())
        n = next(_counter)
        self.a, self.b = f"a{n}@example.com", f"b{n}@example.com"
        self.h.user(self.a)
        self.h.user(self.b, admin=True)
        self.acct = f"cal{n}"
        self.crm: list[int] = []
        self.singles: list[str] = []
        self.series: list[str] = []
        self.deleted_uuids: set[str] = set()  # deleted in the CRM by the test (and not restored)
        self.commits = 0
        self.crash_at_commit: int | None = None
        self.h.engine.commit = self._commit

    def _commit(self, session: Any) -> None:
        self.commits += 1
        if self.crash_at_commit is not None and self.commits == self.crash_at_commit:
            self.crash_at_commit = None
            raise Crash("crash at commit")
        session.commit()

    @initialize(two_way=st.booleans(), private=st.sampled_from(["everyone", "busy_block", "skip"]))
    def connect(self, two_way: bool, private: str) -> None:
        self.h.connect(self.a, self.acct, sync_type="two_way" if two_way else "one_way", private_events=private)

    # ------------------------------------------------------------------ CRM side

    @rule(subject=words, type_key=types, days=st.integers(-3, 30), all_day=st.booleans(), private=st.booleans(), by_admin=st.booleans())
    def crm_create(self, subject: str, type_key: str, days: int, all_day: bool, private: bool, by_admin: bool) -> None:
        start = now() + dt.timedelta(days=days, hours=2)
        fields: dict[str, Any] = dict(type=type_key, private=private)
        if all_day:
            fields.update(all_day=True)
        if by_admin:
            fields["owner_id"] = self.h.users[self.a]
        self.crm.append(self.h.create(self.b if by_admin else self.a, subject, start=start, **fields))

    @rule(i=idx, subject=words, shift=st.integers(-2, 48), private=st.booleans(), type_key=types, by_admin=st.booleans())
    def crm_edit(self, i: int, subject: str, shift: int, private: bool, type_key: str, by_admin: bool) -> None:
        if not self.crm:
            return
        aid = self.crm[i % len(self.crm)]
        act = self.h.activity(aid)
        if act.deleted:
            return
        change: dict[str, Any] = {"subject": subject, "private": private, "type": type_key}
        if not act.all_day and act.start_at:
            start = max(act.start_at + dt.timedelta(hours=shift), now() + dt.timedelta(hours=1))
            change.update(start=start.isoformat(), end=(start + dt.timedelta(hours=1)).isoformat())
        try:
            self.h.edit(self.b if by_admin else self.h_owner(act), aid, **change)
        except CrmError:
            pass  # read-only occurrence, another user's private activity: refused as the CRM says

    def h_owner(self, act: Activity) -> str:
        return self.a if act.owner_id == self.h.users[self.a] else self.b

    @rule(i=idx)
    def crm_delete(self, i: int) -> None:
        if not self.crm:
            return
        act = self.h.activity(self.crm[i % len(self.crm)])
        if act.deleted:
            return
        try:
            self.h.delete(self.h_owner(act), act.id)
            self.deleted_uuids.add(act.uuid)
        except CrmError:
            pass

    @rule(i=idx)
    def crm_give_away(self, i: int) -> None:
        """The admin gives one of a's activities to b (it must leave a's calendar)."""
        if not self.crm:
            return
        act = self.h.activity(self.crm[i % len(self.crm)])
        if act.deleted or act.private or act.read_only or act.owner_id != self.h.users[self.a]:
            return
        self.h.edit(self.b, act.id, owner_id=self.h.users[self.b])

    @rule(i=idx)
    def crm_restore(self, i: int) -> None:
        from calsync.crm.services.activities import restore_activity
        from calsync.store.tables import User

        deleted = [a for a in self.h.activities(self.a, deleted=True) if not a.read_only]  # occurrences: refused (409)
        if not deleted:
            return
        act = deleted[i % len(deleted)]
        with self.h.session() as s:
            restore_activity(s, s.get(User, act.owner_id), act.id)
        self.deleted_uuids.discard(act.uuid)

    # ------------------------------------------------------------------ calendar side

    @rule(subject=words, days=st.integers(-3, 30), private=st.sampled_from(["public", "private", "confidential"]))
    def cal_create(self, subject: str, days: int, private: str) -> None:
        start = now() + dt.timedelta(days=days, hours=3)
        event = Event("primary", summary=subject, start=start, end=start + dt.timedelta(hours=1), timezone="Europe/Paris", privacy=private)  # type: ignore[arg-type]
        self.singles.append(self.h.server.user_put(self.acct, event).event_id)

    def _live_events(self) -> list[Event]:
        return [e for e in self.h.server.events(self.acct) if not e.series_id]

    @rule(i=idx, subject=words, shift=st.integers(0, 48), private=st.booleans())
    def cal_edit(self, i: int, subject: str, shift: int, private: bool) -> None:
        events = self._live_events()
        if not events:
            return
        event = events[i % len(events)]
        changes: dict[str, Any] = {"summary": subject, "privacy": "private" if private else "public"}
        if event.all_day:
            assert event.start_date and event.end_date
            days = dt.timedelta(days=shift // 24)
            changes.update(start_date=event.start_date + days, end_date=event.end_date + days)
        else:
            assert event.start and event.end
            start = max(event.start + dt.timedelta(hours=shift), now() + dt.timedelta(hours=1))
            changes.update(start=start, end=start + (event.end - event.start))
        edited = Event(**{**vars(event), **changes})
        self.h.server.user_put(self.acct, edited)

    @rule(i=idx)
    def cal_delete(self, i: int) -> None:
        events = self._live_events()
        if events:
            self.h.server.user_delete(self.acct, "primary", events[i % len(events)].event_id)

    @rule(i=idx)
    def cal_touch(self, i: int) -> None:
        events = self._live_events()
        if events:
            self.h.server.user_touch(self.acct, "primary", events[i % len(events)].event_id)

    @rule(subject=words, count=st.integers(2, 5), private=st.booleans())
    def cal_series(self, subject: str, count: int, private: bool) -> None:
        start = now() + dt.timedelta(days=1, hours=4)
        event = Event("primary", summary=subject, start=start, end=start + dt.timedelta(hours=1), timezone="UTC", privacy="private" if private else "public")
        self.series.append(self.h.server.user_put_series(self.acct, event, count=count))

    @rule(i=idx, n=st.integers(0, 4), cancel=st.booleans(), shift=st.integers(1, 5))
    def cal_occurrence(self, i: int, n: int, cancel: bool, shift: int) -> None:
        if not self.series:
            return
        sid = self.series[i % len(self.series)]
        instances = [e for e in self.h.server.events(self.acct) if e.series_id == sid]
        if not instances:
            return
        occ = instances[n % len(instances)]
        if cancel:
            self.h.server.user_cancel_occurrence(self.acct, "primary", sid, occ.recurrence_id)
        else:
            assert occ.start and occ.end
            self.h.server.user_edit_occurrence(self.acct, "primary", sid, occ.recurrence_id, summary=occ.summary + " (moved)",
                                               start=occ.start + dt.timedelta(hours=shift), end=occ.end + dt.timedelta(hours=shift))

    @rule(i=idx)
    def cal_delete_series(self, i: int) -> None:
        if self.series:
            self.h.server.user_delete(self.acct, "primary", self.series[i % len(self.series)])

    # ------------------------------------------------------------------ settings, runs, faults

    @rule(choice=st.sampled_from(["two_way", "one_way", "everyone", "busy_block", "skip", "push_all", "push_some", "details_on", "details_off", "import_lunch"]))
    def change_settings(self, choice: str) -> None:
        values = {
            "two_way": {"sync_type": "two_way"}, "one_way": {"sync_type": "one_way"},
            "everyone": {"private_events": "everyone"}, "busy_block": {"private_events": "busy_block"}, "skip": {"private_events": "skip"},
            "push_all": {"push_types": None}, "push_some": {"push_types": ["call", "meeting"]},
            "details_on": {"include_details": True}, "details_off": {"include_details": False}, "import_lunch": {"import_type": "lunch"},
        }[choice]
        self.h.settings(self.a, **values)

    @rule()
    def sync(self) -> None:
        self.h.sync(self.a)

    @rule(method=st.sampled_from(["list_changes", "create_event", "update_event", "delete_event", "find_by_activity_id", None]),
          kind=st.sampled_from(["5xx", "429", "timeout"]), times=st.integers(1, 3))
    def sync_with_fault(self, method: str | None, kind: str, times: int) -> None:
        self.h.server.fail(kind, times=times, method=method)
        self.h.sync(self.a)
        self.h.server.clear_faults()

    @rule(at=st.integers(1, 8), when=st.sampled_from(["before", "after"]))
    def sync_with_provider_crash(self, at: int, when: str) -> None:
        calls = itertools.count(1)

        def hook(method: str, phase: str) -> None:
            if phase == when and next(calls) == at:
                raise Crash(f"crash {when} {method}")

        self.h.server.hook = hook
        try:
            self.h.sync(self.a)
        except Crash:
            pass
        finally:
            self.h.server.hook = None

    @rule(at=st.integers(1, 8))
    def sync_with_commit_crash(self, at: int) -> None:
        self.crash_at_commit = self.commits + at
        try:
            self.h.sync(self.a)
        except Crash:
            pass
        finally:
            self.crash_at_commit = None

    @rule()
    def sync_with_412_race(self) -> None:
        """Someone edits the calendar while our writes are in flight: every etag we hold is stale."""
        def hook(method: str, phase: str) -> None:
            if phase == "before" and method in WRITES:
                self.h.server.hook = None
                for event in self._live_events():
                    self.h.server.user_touch(self.acct, "primary", event.event_id)
                self.h.server.hook = hook

        self.h.server.hook = hook
        try:
            self.h.sync(self.a)
        finally:
            self.h.server.hook = None

    @rule()
    def expire_cursor(self) -> None:
        self.h.server.expire_cursors(self.acct)

    @rule()
    def grant_expires(self) -> None:
        self.h.server.revoke(self.acct)
        assert self.h.sync(self.a).status == "auth_error"
        assert self.h.sync(self.a).status == "auth_error"  # no retries until reconnect
        self.h.server.grant(self.acct)

    @rule()
    def reconnect(self) -> None:
        self.h.connect(self.a, self.acct)

    @precondition(lambda self: self._state() == "needs_confirmation")
    @rule(confirm=st.booleans())
    def answer_deletions(self, confirm: bool) -> None:
        from calsync.store.tables import User
        from calsync.sync import accounts

        with self.h.session() as s:
            accounts.decide_deletions(s, s.get(User, self.h.users[self.a]), "confirmed" if confirm else "cancelled")
        if not confirm:
            self.deleted_uuids.clear()  # cancelling brings deleted items back on purpose

    def _state(self) -> str:
        return self.h.account(self.a).state

    # ------------------------------------------------------------------ the end

    def teardown(self) -> None:
        try:
            self._quiet_and_check()
        finally:
            self.h.server.hook = None

    def _quiet_and_check(self) -> None:
        h = self.h
        h.server.clear_faults()
        h.server.hook = None
        self.crash_at_commit = None
        if self._state() == "auth_error":
            self.reconnect()
        for _ in range(6):
            if self._state() == "needs_confirmation":
                self.answer_deletions(True)
            self._backoff_elapses()
            summary = h.sync(self.a)
            assert summary.status in ("ok", "needs_confirmation"), summary.line()
            if summary.status == "ok" and summary.writes == 0 and summary.errors == 0:
                break
        else:
            raise AssertionError(f"no quiet state after 6 syncs: {summary.line()} {summary.entries}")
        self._check_invariants()
        before = {m: h.server.requests[m] for m in WRITES}
        summary = h.sync(self.a)
        assert summary.status == "ok" and summary.writes == 0, summary.line()
        assert {m: h.server.requests[m] for m in WRITES} == before, "one more sync wrote to the calendar"

    def _backoff_elapses(self) -> None:
        """Deletions that failed are retried after a backoff (minutes): let that time pass, so
        "quiet" means nothing is left to do, not merely nothing due yet."""
        from sqlalchemy import update

        with self.h.session() as s:
            s.execute(update(SyncOutbox).values(next_attempt_at=now() - dt.timedelta(seconds=1)))

    def _check_invariants(self) -> None:
        h = self.h
        account: SyncAccount = h.account(self.a)
        mode = account.private_events
        owner = h.users[self.a]
        events = {e.key: e for e in h.server.events(self.acct)}
        links = [link for link in h.links(self.a) if link.status == "linked"]
        live = {a.id: a for a in h.activities(self.a)}
        from calsync.sync.model import EventKey

        linked_activities: set[int] = set()
        for link in links:
            key = EventKey(link.calendar_id, link.event_id, link.recurrence_id)
            assert key in events, f"link {key} points to a missing event"
            assert link.activity_id in live, f"link {key} points to activity {link.activity_id} that is not a's live activity"
            assert link.activity_id not in linked_activities, f"activity {link.activity_id} has two events"
            linked_activities.add(link.activity_id)
            act, event = live[link.activity_id], events[key]
            link_mode = mode_for(mode, link.origin)  # type: ignore[arg-type]
            expected, got = fields_of(act), to_crm(event, link_mode)
            if link_mode == "everyone":
                expected, got = [f.__class__(**{**vars(f), "private": False}) for f in (expected, got)]
            assert expected == got, f"activity {act.id} and its event differ: {expected} != {got}"
            if event.is_private and link_mode != "everyone":
                assert act.private, "a private calendar event became a public activity"
        by_uuid: dict[str, int] = {}
        for event in events.values():
            if event.activity_uuid and not event.series_id:
                by_uuid[event.activity_uuid] = by_uuid.get(event.activity_uuid, 0) + 1
        assert all(n == 1 for n in by_uuid.values()), f"duplicate events for one activity: {by_uuid}"
        for uuid in self.deleted_uuids:
            assert uuid not in by_uuid, "an activity deleted in the CRM came back in the calendar"
        with h.session() as s:
            from sqlalchemy import select

            for uuid in self.deleted_uuids:
                act = s.scalar(select(Activity).where(Activity.uuid == uuid))
                assert act is not None and act.deleted, "a deleted activity came back"
            keys = dict(s.execute(select(Activity.id, Activity.type_id)).all())
        type_keys = {}
        with h.session() as s:
            from calsync.store.tables import ActivityType

            type_keys = {t.id: t.key for t in s.scalars(select(ActivityType).where(ActivityType.company_id == account.company_id))}
        pushed = set(account.push_types) if account.push_types is not None else None
        for act in live.values():
            if act.origin == "calendar":
                assert act.id in linked_activities or act.read_only or self._became_unsynced(act), f"calendar-born activity {act.id} lost its event"
                continue
            pushable = pushed is None or type_keys[keys[act.id]] in pushed
            ended = fields_of(act).ends_before(now())
            if pushable and not ended:
                assert act.id in linked_activities, f"upcoming CRM activity {act.id} has no event"
            if not pushable:
                assert act.id not in linked_activities and act.uuid not in by_uuid, f"activity {act.id} of an unpushed type is in the calendar"
        for uuid, _ in by_uuid.items():
            owners = [a for a in live.values() if a.uuid == uuid]
            assert owners or self._foreign(uuid), f"an event carries activity id {uuid} that a does not own live"
        with h.session() as s:
            others = s.scalars(select(Activity).where(Activity.owner_id != owner, Activity.id.in_([l.activity_id for l in h.links(self.a) if l.activity_id]))).all()
            linked_other = [a.id for a in others if any(l.activity_id == a.id and l.status == "linked" for l in links)]
            assert not linked_other, f"another user's activities are linked to a's calendar: {linked_other}"

    def _became_unsynced(self, act: Activity) -> bool:
        """Calendar-born items can lose their link legitimately: their event ended outside the window."""
        return fields_of(act).ends_before(now())

    def _foreign(self, uuid: str) -> bool:
        with self.h.session() as s:
            from sqlalchemy import select

            act = s.scalar(select(Activity).where(Activity.uuid == uuid))
            return act is not None and act.owner_id != self.h.users[self.a]


@pytest.mark.timeout(max(300, EXAMPLES))  # `make soak` runs far longer than the default limit
def test_random_sequences_keep_both_sides_in_step() -> None:
    from unittest import mock

    # Thousands of throw-away users: skip the deliberately slow password hash (not under test here).
    with mock.patch("calsync.crm.services.accounts.hash_password", lambda password: "scrypt$00$00"):
        _run_machine()


def _run_machine() -> None:
    run_state_machine_as_test(
        SyncMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=25, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=True),
    )
