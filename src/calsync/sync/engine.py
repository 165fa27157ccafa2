"""One sync run of one account: pull, decide, commit, then write to the provider.

Order matters for crash safety: (1) the outbox of deletions decided earlier is worked off;
(2) every page of changes is pulled (a listing cut short decides nothing); (3) the pure decision
is made; (4) CRM writes, link updates and the new cursor are committed together; (5) provider
writes follow, each committed on its own. A crash at any point leaves a state from which the
next run repeats what is missing without duplicates (deterministic ids, adoption by our id,
preconditions)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from calsync.crm.errors import Conflict
from calsync.crypto import SecretBox
from calsync.store.tables import SyncAccount, SyncRun
from calsync.sync import registry
from calsync.sync import repository as repo
from calsync.sync import members, series
from calsync.sync.accounts import STOPPED_FROM, credentials
from calsync.sync.apply import Outbound, SettingsMoved, apply_inbound, hold_settings, unmapped_fields
from calsync.sync.budget import PARTIAL, RUN_BUDGET, Budget
from calsync.sync.lease import Lease
from calsync.sync.mapping import read_floating
from calsync.sync.model import ChangeSet, Event, EventKey, Removal
from calsync.sync.progress import Progress, Report, RunProgress, nothing
from calsync.sync.provider import AuthError, CalendarProvider, CursorExpired, ProviderError, Window
from calsync.sync.reconcile import DeletionPolicy, Pulled, decide, unconfirmed
from calsync.sync.summary import RunSummary

log = logging.getLogger("calsync.sync")
HORIZON_DAYS = 365
LOOKBACK = dt.timedelta(days=1)
Opener = Callable[[SyncAccount], CalendarProvider]
BUSY = "a sync of this account is already running"
ORPHANED = "the process running this sync stopped before it finished"
LEASE_POLL = 0.25  # seconds between tries while waiting for another process's run
REMOVED = "the calendar connection was removed during the run"


def open_with_registry(box: SecretBox) -> Opener:
    """Opens an account's provider through the registry, with its decrypted credentials."""

    def opener(account: SyncAccount) -> CalendarProvider:
        return registry.get(account.provider).open(credentials(box, account))

    return opener


class SyncEngine:
    """Runs syncs. `commit` and `clock` are seams for crash and time tests."""

    def __init__(self, sessions: sessionmaker[Session], opener: Opener, *, base_url: str = "http://127.0.0.1:8000",
                 clock: Callable[[], dt.datetime] | None = None, commit: Callable[[Session], None] | None = None,
                 horizon_days: int = HORIZON_DAYS, new_member_reads: int = members.NEW_MEMBER_READS,
                 run_budget: dt.timedelta | None = RUN_BUDGET) -> None:
        self.sessions, self.opener, self.base_url = sessions, opener, base_url
        self.run_budget = run_budget  # after this long a run takes no new items (None: no bound)
        self.new_member_reads = new_member_reads  # unlinked objects a complete listing reads per run
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.commit = commit or (lambda session: session.commit())
        self.horizon_days = horizon_days
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, account_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def run(self, account_id: int, *, trigger: str = "manual", full: bool = False,
            progress: Callable[[int, int], None] | None = None, wait: float = 0.0) -> RunSummary:
        """Never two runs of one account at once: a second caller waits up to `wait` seconds for
        the running one, then gets status "busy". `progress(done, total)` follows provider writes."""
        deadline = time.monotonic() + wait
        lock = self._lock(account_id)
        if not (lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)):
            return RunSummary(account_id, status="busy", message=BUSY)
        try:
            # the in-process lock keeps this engine's threads apart; the lease, other processes
            lease = Lease(self.sessions, account_id)
            while not lease.take():
                if not self._exists(account_id):
                    return RunSummary(account_id, status="missing", message="there is no such calendar connection")
                if time.monotonic() >= deadline:
                    return RunSummary(account_id, status="busy", message=BUSY)
                time.sleep(min(LEASE_POLL, max(0.01, deadline - time.monotonic())))
            try:
                return self._run(account_id, trigger, full, progress, lease)
            except Exception:
                # a disconnect between a step's read and its write (any step, also _start and the
                # error paths' _finish): the write fails (StaleDataError, a foreign key); not an error
                if self._exists(account_id):
                    raise
                return self._removed(RunSummary(account_id))
            finally:
                lease.release()
        finally:
            lock.release()

    # ------------------------------------------------------------------ steps

    def _start(self, account_id: int, trigger: str, now: dt.datetime) -> tuple[RunSummary, DeletionPolicy] | RunSummary:
        session = self.sessions()
        try:
            account = session.get(SyncAccount, account_id)
            if account is None:
                return RunSummary(account_id, status="missing", message="there is no such calendar connection")
            repo.lock_account(session, account)  # a stop committed meanwhile is seen: no run starts
            # We hold the lease, so no other run of this account is alive: a run still marked
            # running was left by a process that died, and is closed now.
            if repo.close_orphaned_runs(session, account_id, self.clock(), ORPHANED) or account.state == "syncing":
                if account.state == "syncing":
                    account.state = "active" if account.enabled else "paused"
                self.commit(session)
                repo.lock_account(session, account)
            if not account.enabled:
                return RunSummary(account_id, status="paused", message="sync is stopped: start it to sync again")
            if account.state == "auth_error":
                return RunSummary(account_id, status="auth_error", message=account.last_error or "reconnect the calendar")
            if not account.calendar_id:
                return RunSummary(account_id, status="paused", message="choose a calendar to sync with")
            pending = account.pending_deletions or {}
            policy: DeletionPolicy = pending.get("decision", "ask")
            if account.state == "needs_confirmation" and policy == "ask":
                return RunSummary(account_id, status="needs_confirmation", message=pending.get("message"))
            account.state = "syncing"
            run = repo.new_run(session, account, trigger, now)
            summary = RunSummary(account_id, run_id=run.id)
            self.commit(session)
            return summary, policy
        finally:
            session.close()

    def _pull(self, provider: CalendarProvider, account: SyncAccount, full: bool, now: dt.datetime, summary: RunSummary,
              report: Report = nothing) -> tuple[Pulled, str | None]:
        window = Window(now - LOOKBACK, now + dt.timedelta(days=self.horizon_days))
        cursor = None if full else account.cursor
        if account.horizon_until is None or window.end - account.horizon_until > dt.timedelta(days=1):
            cursor = None  # the rolling horizon moved: list again so new occurrences come in
        try:
            return self._list(provider, account.calendar_id or "", cursor, window, summary, report)
        except CursorExpired:
            summary.note("skip", "calendar", "the calendar's sync cursor expired: a full resync was done")
            return self._list(provider, account.calendar_id or "", None, window, summary, report)

    @staticmethod
    def _list(provider: CalendarProvider, calendar_id: str, cursor: str | None, window: Window,
              summary: RunSummary, report: Report = nothing) -> tuple[Pulled, str | None]:
        events: list[Event] = []
        tombstones: list[EventKey] = []
        left: set[EventKey] = set()
        series: set[str] = set()
        skipped: dict[str, str] = {}
        membership: set[str] | None = None
        full = cursor is None
        page: str | None = None
        read, total = 0, None  # for the progress report
        for _ in range(100_000):
            changes = provider.list_changes(calendar_id, cursor, window, page)
            events.extend(changes.events)
            tombstones.extend(r.key for r in changes.deleted if r.reason == "deleted")
            left.update(r.key for r in changes.deleted if r.reason == "left_window")
            series.update(changes.complete_series)
            skipped.update(changes.skipped)
            if changes.members is not None:
                membership = (membership or set()) | set(changes.members)
            for item, message in changes.notes:
                summary.note("skip", item, message)
            full = full and changes.full
            if changes.next_page is None:
                return Pulled(events, tombstones, full, series, window, skipped, membership, left), changes.cursor
            page = changes.next_page
            read += changes.objects if changes.objects is not None else len(changes.events)
            total = changes.total if changes.total is not None else total
            report(Progress("reading", read, total))  # more pages to come: say how far
        raise ProviderError("the calendar kept returning more pages: giving up this run")

    def _run(self, account_id: int, trigger: str, full: bool, progress: Callable[[int, int], None] | None,
             lease: Lease | None = None) -> RunSummary:
        now = self.clock()
        started = self._start(account_id, trigger, now)
        if isinstance(started, RunSummary):
            return started
        summary, policy = started
        assert summary.run_id is not None
        report = RunProgress(self.sessions, summary.run_id)
        provider: CalendarProvider | None = None
        try:
            session = self.sessions()
            try:
                account = session.get(SyncAccount, account_id)
                if account is None:
                    raise LookupError("account removed")
                provider = self.opener(account)
                settings_version = account.settings_version
                send_invitations = bool(account.send_invitations)
            finally:
                session.close()
            outbound = Outbound(self.sessions, self.commit, provider, account_id, summary, self.base_url, now)
            outbound.settings_version = settings_version
            outbound.unmapped = unmapped_fields(provider, send_invitations)
            def writing(done: int, total: int) -> None:
                report(Progress("writing", done, total))
                if progress is not None:
                    progress(done, total)

            outbound.progress = writing
            outbound.renew = lease.renew if lease is not None else None
            budget = outbound.budget = Budget.starting(self.clock, self.run_budget)
            outbound.deletions()
            if lease is not None:
                lease.renew()
            if not self._decide_and_commit(provider, account_id, full, policy, summary, now, outbound, report):
                return summary
            failed = [e for e in summary.entries if e["kind"] == "error"]
            if failed:
                self._finish(summary, "provider_error", failed[-1]["message"], now)
            elif budget.cut:
                summary.note("notice", "sync", budget.message())
                self._finish(summary, PARTIAL, budget.message(), now)
            else:
                self._finish(summary, "ok", None, now)
        except AuthError as exc:
            self._finish(summary, "auth_error", exc.message, now)
        except ProviderError as exc:
            summary.retry_after = exc.retry_after
            self._finish(summary, "provider_error", exc.message, now)
        except Conflict:
            self._finish(summary, "retry", "activities changed while syncing: synced again shortly", now)
        except SettingsMoved as exc:
            # not a failure: the user changed the settings; the next run uses them
            summary.note("restart", "sync", str(exc))
            self._finish(summary, "restart", str(exc), now)
        except Exception as exc:
            if not self._exists(account_id):
                self._removed(summary)
            else:
                # Whatever went wrong, the run and the account end in a final state (never
                # "running"/"syncing" for good) and the runner retries with backoff. The log line
                # names the kind of error only: its text could quote an event's private lines.
                log.exception("sync of account %s failed", account_id)
                self._finish(summary, "provider_error", f"the sync stopped on an unexpected error ({type(exc).__name__})", now)
        finally:
            if provider is not None:
                provider.close()
        return summary

    @staticmethod
    def _removed(summary: RunSummary) -> RunSummary:
        summary.status, summary.message = "missing", REMOVED
        log.info("sync of account %s: %s", summary.account_id, REMOVED)
        return summary

    def _exists(self, account_id: int) -> bool:
        session = self.sessions()
        try:
            return session.get(SyncAccount, account_id) is not None
        finally:
            session.close()

    def _decide_and_commit(self, provider: CalendarProvider, account_id: int, full: bool, policy: DeletionPolicy,
                           summary: RunSummary, now: dt.datetime, outbound: Outbound, report: Report = nothing) -> bool:
        session = self.sessions()
        try:
            account = session.get(SyncAccount, account_id)
            if account is None:
                raise LookupError("account removed")
            seen_settings = outbound.settings_version = account.settings_version
            pulled, cursor = self._pull(provider, account, full, now, summary, report)
            calendar_id = account.calendar_id or ""
            fresh, unread, seen_members = members.Newcomers(), set[str](), set[str]()
            if pulled.full and pulled.members is not None:
                rows = repo.link_rows(session, account)
                doubtful = unconfirmed([repo.link_state(link) for link in rows], pulled)
                seen_members = members.known(session, account.id)
                fresh = members.newcomers(pulled, calendar_id, {link.event_id for link in rows}, seen_members,
                                          self.new_member_reads)
                unread = self._fetch(provider, calendar_id, doubtful, pulled, set(fresh.read))
                if fresh.deferred:
                    summary.note("notice", "calendar", f"{len(fresh.deferred)} calendar items new since the last complete "
                                 "listing and absent from its time-range answer are read in the next runs")
            elif not pulled.full:
                echoes = repo.unechoed(session, account, pulled, summary.run_id)
                if echoes:
                    self._fetch(provider, calendar_id, echoes, pulled, set())
            zone = repo.owner_of(session, account).timezone
            pulled.events = [read_floating(e, zone) if e.floating else e for e in pulled.events]
            crm = repo.crm_state(session, account, None, pulled, now)
            # Only a complete listing (links missing from it may be gone) or changed settings (a
            # type no longer pushed, ...) need every link weighed; otherwise only the links with
            # something new on either side can lead to a decision.
            everything = pulled.full or account.evaluated_settings_version != account.settings_version
            if everything:
                links = repo.link_rows(session, account)
            else:
                links = repo.relevant_links(session, account, pulled, repo.named_activity_ids(crm))
            repo.add_linked(session, account, crm, links)
            settings = replace(repo.settings_of(account), unmapped=unmapped_fields(provider, bool(account.send_invitations)))
            live_count = None if everything else repo.live_link_count(session, account)
            plan = decide([repo.link_state(link) for link in links], pulled, crm, settings, now, policy, live_count)
            for entry in plan.log:
                summary.note(entry["kind"], entry["item"], entry["message"])
            if plan.guard is not None:
                session.rollback()
                account = session.get(SyncAccount, account_id)
                assert account is not None
                account.pending_deletions = {"decision": "ask", "count": len(plan.deletions), "message": plan.guard}
                self.commit(session)
                self._finish(summary, "needs_confirmation", plan.guard, now)
                return False
            imports = sum(1 for d in plan.decisions if d.kind == "import")
            if imports:  # reported before this session writes: the report commits on its own
                report(Progress("importing", 0, imports))
            # a settings change (another calendar, ...) committed meanwhile voids this run's work;
            # from here on the account row is held, so none can commit before this run does
            hold_settings(session, account_id, seen_settings)
            pulled_before = summary.pulled
            complete = apply_inbound(session, account, plan, crm, summary, now, settings.unmapped, outbound.budget)
            # Out of time before every change was taken in: the cursor, the horizon, the known
            # objects, an answered deletion question and the settings seen stay as they were, so
            # the next run lists these changes again (those taken in meet their links: no-ops).
            if not outbound.budget or not outbound.budget.cut:
                series.remember(session, account.id, pulled.events)
                series.forget_unlinked(session, account.id, {
                    (d.key.calendar_id, d.key.event_id) for d in plan.decisions
                    if d.kind in ("trash_activity", "drop_link") and d.key is not None and d.key.recurrence_id})
                if complete and pulled.full and pulled.members is not None:
                    members.remember(session, account.id, calendar_id, pulled.members - set(fresh.deferred) - unread,
                                     seen_members)
                # events left out (no import type, or new objects not read yet) come back with a full listing
                account.cursor = cursor if complete and not fresh.deferred else None
                if pulled.full:
                    # The horizon is where the last complete listing reached: moving it on every
                    # incremental run would keep the one-day threshold from ever being reached.
                    account.horizon_until = pulled.window.end
                account.pending_deletions = None
                if everything:
                    account.evaluated_settings_version = account.settings_version
            self.commit(session)
        finally:
            session.close()
        if imports:
            # imports are taken first, so a run whose time ran out took in at most this many
            report(Progress("importing", min(imports, summary.pulled - pulled_before), imports))
        outbound.run(plan)
        return True

    @staticmethod
    def _fetch(provider: CalendarProvider, calendar_id: str, linked: set[str], pulled: Pulled, new: set[str]) -> set[str]:
        """Reads the objects the listings disagree on (one bulk read where the provider has one,
        such as CalDAV multiget), so what is decided rests on agreeing evidence: what is read is
        listed, what the provider says is gone is a tombstone, what it cannot read is skipped.
        `linked`: objects a link holds; `new`: unlinked objects new since the last complete
        listing, of which only instances inside the window are taken (as the windowed answer
        should have named them). Returns the new objects the provider answered nothing about."""
        ids = linked | new
        if not ids:
            return set()
        fetch = getattr(provider, "fetch_events", None)
        if fetch is not None:
            found: ChangeSet = fetch(calendar_id, sorted(ids), pulled.window)
        else:
            found = ChangeSet()
            for item_id in sorted(ids):
                try:
                    instances = provider.get_event(calendar_id, item_id)
                except (AuthError, CursorExpired):
                    raise
                except ProviderError as exc:
                    found.skipped.append((item_id, exc.message))
                    continue
                found.events.extend(instances)
                if not instances:
                    found.deleted.append(Removal(EventKey(calendar_id, item_id, "")))
        listed = {e.key for e in pulled.events}
        answered = {e.event_id for e in found.events} | {r.event_id for r in found.deleted} | {i for i, _ in found.skipped}
        pulled.events.extend(e for e in found.events if e.key not in listed
                             and (e.event_id not in new or members.in_window(e, pulled.window)))
        pulled.tombstones.extend(r.key for r in found.deleted if r.reason == "deleted")
        pulled.left_window.update(r.key for r in found.deleted if r.reason == "left_window")
        pulled.complete_series.update(found.complete_series)
        pulled.skipped.update(found.skipped)
        # fetched and still unaccounted for (the server answered nothing about it): it is present
        # by the membership listing, so it is held like an unreadable object, never deleted
        for item_id in (linked - {e.event_id for e in pulled.events} - {k.event_id for k in pulled.tombstones}
                        - {k.event_id for k in pulled.left_window} - set(pulled.skipped)):
            pulled.skipped[item_id] = "the calendar named it in one listing but did not return it"
        return new - answered

    def _finish(self, summary: RunSummary, status: str, message: str | None, now: dt.datetime) -> None:
        summary.status, summary.message = status, message
        quiet = status in ("ok", "needs_confirmation", "restart", PARTIAL)
        if not quiet and not any(e["kind"] == "error" for e in summary.entries):
            summary.note("error", "sync", message or status)
        session = self.sessions()
        try:
            account = session.get(SyncAccount, summary.account_id)
            if account is None:  # disconnected during the run (its runs went with it)
                self._removed(summary)
                return
            # held (and reloaded) before the state is written: a stop committed meanwhile is seen
            # and kept, never overwritten with "active" (set_enabled holds the row the same way)
            repo.lock_account(session, account)
            run = session.get(SyncRun, summary.run_id) if summary.run_id else None
            if account is not None:
                states = {"ok": "active", "retry": "active", "restart": "active", PARTIAL: "active"}
                account.state = states.get(status, status)
                if not account.enabled and account.state in STOPPED_FROM:
                    account.state = "paused"
                if status in ("ok", PARTIAL):
                    account.last_success_at = now
                elif status not in ("restart", PARTIAL):
                    account.last_error, account.last_error_at = message, now
            if run is not None:
                run.finished_at, run.status, run.error = self.clock(), status, message
                run.pulled, run.pushed, run.deleted = summary.pulled, summary.pushed, summary.deleted
                run.conflicts, run.skipped = summary.conflicts, summary.skipped
                run.entries = list(summary.entries)
            self.commit(session)
        finally:
            session.close()
        log.info("sync of account %s: %s", summary.account_id, summary.line())
