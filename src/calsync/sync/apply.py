"""Carrying out a plan. Inbound decisions change the CRM (through the activity services, with
source="sync") in the transaction that also advances the cursor; outbound decisions are provider
calls made after that commit, each followed by its own commit, each repeatable after a crash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from calsync.crm.errors import Conflict, CrmError
from calsync.crm.schemas import ActivityCreate, ActivityUpdate
from calsync.crm.services import activities as activity_service
from calsync.store.tables import Activity, SyncAccount, SyncLink, SyncOrigin, SyncOutbox
from calsync.sync import repository as repo
from calsync.sync import series as series_store
from calsync.sync.accounts import import_type_state
from calsync.sync.budget import Budget
from calsync.sync.mapping import (
    crm_side_hash, crm_values, cut_notes, details_part, fields_of, keep_unmapped, mapped, to_crm, to_event, with_details_part,
)
from calsync.sync.model import Event, EventKey
from calsync.sync.provider import (
    AlreadyExists,
    AuthError,
    CalendarProvider,
    EventNotFound,
    PreconditionFailed,
    ProviderError,
    Outcome,
    RateLimited,
    Write,
)
from calsync.sync.reconcile import INBOUND, CrmState, Decision, Plan, event_hash, mode_for, reads_first
from calsync.sync.summary import RunSummary

Commit = Callable[[Session], None]
IMPORT_BATCH = 500
WRITE_CHUNK = 500  # pushes prepared and sent through write_many per commit
SETTINGS_MOVED = "the sync settings changed during the run (another calendar?): syncing again with the new settings"


class SettingsMoved(Exception):
    """The account's settings changed while a run was going on: its work is for the old settings
    (another calendar, perhaps), so it commits nothing more and the next run starts afresh."""


def hold_settings(session: Session, account_id: int, version: int | None) -> None:
    """Holds the account row until this session commits, provided the settings are still those
    the run decided with; otherwise drops this session's writes and stops the run. Taken before a
    transaction's first write, it also orders the locks as a settings change does (account row,
    then links), so the two never deadlock on PostgreSQL."""
    if version is not None and not repo.settings_unchanged(session, account_id, version):
        session.rollback()
        raise SettingsMoved(SETTINGS_MOVED)


def commit_if_settings_unchanged(session: Session, commit: Commit, account_id: int, version: int | None) -> None:
    """Commits a run's writes only while the settings are those the run decided with."""
    hold_settings(session, account_id, version)
    commit(session)


def _set_event_side(link: SyncLink, event: Event, private_events: str, unmapped: frozenset[str] = frozenset()) -> None:
    link.event_cut = bool(cut_notes(event))  # the calendar holds more than the CRM keeps: read before updating
    link.etag = event.etag
    link.event_hash = event_hash(event, mode_for(private_events, link.origin), unmapped)  # type: ignore[arg-type]
    link.provider_updated = event.updated
    link.event_end = repo.event_end(event)
    link.event_private = event.is_private


def _set_crm_side(link: SyncLink, activity: Activity, details: str | None, *, written: bool = False,
                  unmapped: frozenset[str] = frozenset()) -> None:
    """Records the CRM side as synced. `details` is the digest of the deal/contact block the
    activity gets now (None: the account writes none). An inbound change leaves the event's
    block as it was, so the hash keeps the block half it had; if that differs from the block
    due now, the link stays behind the activity's version and the next run writes the event.
    `unmapped`: fields the provider cannot carry, left out of the hash."""
    fields = mapped(fields_of(activity), unmapped)
    link.synced_version = activity.version
    previous = None if written or details is None else details_part(link.crm_hash)
    if previous is None:
        link.crm_hash = crm_side_hash(fields, details)
    else:
        link.crm_hash = with_details_part(fields, previous)
        if previous != details:
            link.synced_version = 0
    link.status, link.error = "linked", None


def _link(session: Session, account: SyncAccount, key: EventKey, origin: str, activity_id: int | None) -> SyncLink:
    link = repo.find_link(session, account.id, key)
    if link is None:
        link = SyncLink(
            account_id=account.id, calendar_id=key.calendar_id, event_id=key.event_id, recurrence_id=key.recurrence_id,
            origin=origin, synced_version=0, status="linked",
        )
        session.add(link)
    link.activity_id = activity_id
    return link


# ---------------------------------------------------------------------- inbound


def apply_inbound(session: Session, account: SyncAccount, plan: Plan, crm: CrmState, summary: RunSummary, now: dt.datetime,
                  unmapped: frozenset[str] = frozenset(), budget: Budget | None = None) -> bool:
    """Every CRM-side decision, in the caller's transaction (committed with the cursor). False
    when new events had to be left out for want of an active activity type: the caller then
    keeps no cursor, so the next run lists them again (skipped is not missing). Once `budget` is
    spent no new item is taken (the first batch always is, so every run gets further) and the
    budget says where it stopped: the caller then keeps the cursor where it was."""
    owner = repo.owner_of(session, account)
    mode = account.private_events
    imports = [d for d in plan.decisions if d.kind == "import"]
    type_key = _import_type(session, account, summary) if imports else account.import_type_key
    done = _imports(session, account, owner, imports, summary, mode, type_key or account.import_type_key, unmapped, budget)
    others = [d for d in plan.decisions if d.kind in INBOUND and d.kind != "import"]
    if budget is not None and done < len(imports):
        budget.stop(f"{done:,} of {len(imports):,} new calendar events were taken in")
        others = []  # (the budget is spent: no new item is taken)
    for n, d in enumerate(others):
        if budget is not None and (done or n) and budget.spent():
            budget.stop(f"{n:,} of {len(others):,} other calendar changes were taken in")
            break
        # No SAVEPOINT here: with the plain SQLite driver a savepoint opened before any write
        # commits on release. The CRM services validate before they change anything, so a
        # refused item leaves nothing half-written.
        try:
            _inbound_one(session, account, owner, d, crm, summary, mode, now, unmapped)
        except Conflict:
            raise
        except (CrmError, ValidationError) as exc:
            message = exc.message if isinstance(exc, CrmError) else "the event's data was not accepted by the CRM"
            summary.note("skip", _label(d), f"not taken in: {message}")
        except SQLAlchemyError:
            raise  # the transaction is unusable: the run ends (in a final state) and is retried
        except Exception as exc:  # one bad item never stops the others
            reason = f"not taken in: {unexpected(exc)}"
            link = repo.find_link(session, account.id, d.key) if d.key is not None else None
            if link is not None:
                link.status, link.error = "error", reason
            summary.note("error", _label(d), reason, activity_id=d.activity_id)
    for d in plan.decisions:
        if d.kind == "push_delete" and d.key is not None:
            link = _link(session, account, d.key, "crm", d.activity_id)
            link.status = "deleting"
            repo.queue_delete(session, account.id, d.key, d.etag, now)
    return type_key is not None


def _import_type(session: Session, account: SyncAccount, summary: RunSummary) -> str | None:
    """The type this run's imports get: the chosen one, or the fallback when it was deactivated
    (said in the run log and on the settings page). With no active type at all the imports are
    refused, the run reports it as an error, and the cursor stays (see engine) so they come in later."""
    state = import_type_state(session, account)
    if state["import_type_notice"]:
        kind = "error" if state["import_type_in_use"] is None else "notice"
        summary.note(kind, "settings", state["import_type_notice"])  # type: ignore[arg-type]
    return state["import_type_in_use"]


def _imports(session: Session, account: SyncAccount, owner: Any, decisions: list[Decision], summary: RunSummary, mode: str,
             type_key: str, unmapped: frozenset[str] = frozenset(), budget: Budget | None = None) -> int:
    """New calendar events become activities in batches: one type lookup, one attendee lookup
    and one flush per batch instead of several queries per event. An import's key has no link
    and no remembered origin (decide() checked both), so links and origins are inserted as is.
    Returns how many decisions were worked through (all, unless `budget` ran out after a batch)."""
    for start in range(0, len(decisions), IMPORT_BATCH):
        if start and budget is not None and budget.spent():
            return start
        batch: list[tuple[Decision, ActivityCreate]] = []
        for d in decisions[start:start + IMPORT_BATCH]:
            assert d.event is not None and d.key is not None
            try:
                values = crm_values(to_crm(d.event, mode))  # type: ignore[arg-type]
                batch.append((d, ActivityCreate(type=type_key, visibility=account.external_event_visibility, **values)))  # type: ignore[arg-type]
            except ValidationError:
                summary.note("skip", _label(d), "not taken in: the event's data was not accepted by the CRM")
            except Exception as exc:  # one bad item never stops the others
                summary.note("error", _label(d), f"not taken in: {unexpected(exc)}")
        extras = [
            dict(origin="calendar", read_only=d.event.is_occurrence, series_uid=d.event.series_id, occurrence_id=d.event.recurrence_id or None)
            for d, _ in batch if d.event is not None
        ]
        created = activity_service.create_activities_from_sync(session, owner, [(data, extra) for (_, data), extra in zip(batch, extras)])
        for (d, _), result in zip(batch, created):
            assert d.event is not None and d.key is not None
            if isinstance(result, CrmError):
                summary.note("skip", _label(d), f"not taken in: {result.message}")
                continue
            link = SyncLink(
                account_id=account.id, calendar_id=d.key.calendar_id, event_id=d.key.event_id, recurrence_id=d.key.recurrence_id,
                origin="calendar", status="linked", activity_id=result.id,
            )
            _set_event_side(link, d.event, mode, unmapped)
            _set_crm_side(link, result, repo.details_digest_of(session, account, result), unmapped=unmapped)
            session.add(link)
            session.add(SyncOrigin(user_id=account.user_id, calendar_id=d.key.calendar_id, event_id=d.key.event_id,
                                   recurrence_id=d.key.recurrence_id, activity_id=result.id))
            summary.pulled += 1
        session.flush()
    return len(decisions)


def unexpected(exc: Exception) -> str:
    """Plain words for an error no rule foresaw (kept short: it goes to the run log and the link)."""
    text = getattr(exc, "reason", None) or getattr(exc, "message", None)  # worded for the log
    # other exceptions: their kind only, since their text could quote an event's private lines
    return f"an unexpected error: {text}"[:500] if isinstance(text, str) and text else f"an unexpected error ({type(exc).__name__})"


def _label(d: Decision) -> str:
    if d.event is not None:
        return "a private event" if d.event.is_private else f"event \"{d.event.summary[:80]}\""
    return f"activity {d.activity_id}"


def _inbound_one(session: Session, account: SyncAccount, owner: Any, d: Decision, crm: CrmState, summary: RunSummary, mode: str,
                 now: dt.datetime, unmapped: frozenset[str] = frozenset()) -> None:
    assert d.key is not None or d.kind == "restore_activity"
    if d.kind == "adopt":
        assert d.key is not None
        _link(session, account, d.key, d.reason or "crm", d.activity_id)
        if d.reason == "calendar" and d.activity_id is not None:
            repo.remember_origin(session, account.user_id, d.key, d.activity_id)
        session.flush()
    elif d.kind == "update_activity":
        assert d.event is not None and d.activity_id is not None and d.key is not None
        item = crm.linked.get(d.activity_id) or next((i for i in crm.by_uuid.values() if i.id == d.activity_id), None)
        current = repo.find_link(session, account.id, d.key)
        origin = current.origin if current is not None else (item.origin if item else "calendar")
        incoming = to_crm(d.event, mode_for(mode, origin))  # type: ignore[arg-type]
        values = crm_values(keep_unmapped(incoming, item.fields, unmapped) if item is not None else incoming)
        activity = activity_service.update_activity(
            session, owner, d.activity_id, ActivityUpdate(**values), source="sync",  # type: ignore[arg-type]
            expected_version=item.version if item else None,
        )
        link = _link(session, account, d.key, activity.origin, activity.id)
        _set_event_side(link, d.event, mode, unmapped)
        _set_crm_side(link, activity, repo.details_digest_of(session, account, activity), unmapped=unmapped)
        summary.pulled += 1
    elif d.kind == "trash_activity":
        assert d.activity_id is not None and d.key is not None
        activity = session.get(Activity, d.activity_id)
        if activity is not None and not activity.deleted:
            activity_service.delete_activity(session, owner, d.activity_id, source="sync", reason=d.reason)
            summary.deleted += 1
        link = repo.find_link(session, account.id, d.key)
        if link is not None:
            session.delete(link)
    elif d.kind == "restore_activity":
        assert d.activity_id is not None
        activity_service.restore_activity(session, owner, d.activity_id, now=now, source="sync")
    elif d.kind == "record":
        assert d.key is not None
        link = repo.find_link(session, account.id, d.key)
        if link is None:
            return
        if d.event is not None:
            _set_event_side(link, d.event, mode, unmapped)
        activity = session.get(Activity, d.activity_id) if d.activity_id else None
        seen = crm.linked.get(d.activity_id) if d.activity_id else None
        if activity is not None and seen is not None and activity.version != seen.version:
            # another request edited the activity after this run's snapshot: that edit was not
            # weighed, so the CRM side stays unsynced and the next run pushes it
            activity = None
        if activity is not None and d.reason != "keep_crm_hash":
            if d.reason == "version_only":
                link.synced_version = activity.version
            else:
                _set_crm_side(link, activity, repo.details_digest_of(session, account, activity), unmapped=unmapped)
    elif d.kind == "drop_link":
        assert d.key is not None
        link = repo.find_link(session, account.id, d.key)
        if link is not None:
            session.delete(link)
    elif d.kind == "detach":
        assert d.key is not None
        link = repo.find_link(session, account.id, d.key)
        if link is not None:
            link.status, link.error = "detached", d.reason
            summary.note("skip", f"activity {link.activity_id}", f"no longer synced: {d.reason}")
    session.flush()


# ---------------------------------------------------------------------- outbound


def unmapped_fields(provider: object, send_invitations: bool = True) -> frozenset[str]:
    """The synced fields a provider declares it cannot carry (optional `unmapped_fields`), plus
    the attendees when writing them would mail them (optional `attendees_need_invitations`, Graph) and
    the user has invitations off: they are not written, so the calendar's empty list is neither
    a change nor a difference, and a pulled edit keeps the activity's attendees."""
    fields = frozenset(getattr(provider, "unmapped_fields", ()) or ())
    if not send_invitations and getattr(provider, "attendees_need_invitations", False):
        fields |= {"attendees"}
    return fields


class Outbound:
    """Provider writes for one run, after the inbound commit. Stops early on auth and rate errors."""

    def __init__(self, sessions: sessionmaker[Session], commit: Commit, provider: CalendarProvider, account_id: int,
                 summary: RunSummary, base_url: str, now: dt.datetime) -> None:
        self.sessions, self.commit, self.provider = sessions, commit, provider
        self.account_id, self.summary, self.base_url, self.now = account_id, summary, base_url, now
        self.progress: Callable[[int, int], None] | None = None  # (done, total) for progress bars
        self.renew: Callable[[], None] | None = None  # keeps the run's lease while writes go on
        self.settings_version: int | None = None  # the settings the run decided with (None: unchecked)
        self.unmapped: frozenset[str] = unmapped_fields(provider)
        self.budget: Budget | None = None  # the run's time budget: no new write once it is spent

    def _commit(self, session: Session) -> None:
        commit_if_settings_unchanged(session, self.commit, self.account_id, self.settings_version)

    def _out_of_time(self, done: int, total: int, what: str) -> bool:
        """True (and the budget says where the run stopped) once the run's time is spent."""
        if self.budget is None or not self.budget.spent():
            return False
        self.budget.stop(f"{done:,} of {total:,} {what} were made")
        return True

    def run(self, plan: Plan) -> None:
        writes = [d for d in plan.decisions if d.kind in ("push_create", "push_update")]
        if writes and self._out_of_time(0, len(writes), "calendar writes"):
            writes = []
        self._prefetch([d for d in writes if d.kind == "push_update"])
        write_many = getattr(self.provider, "write_many", None)  # optional, like prefetch
        if write_many is not None and len(writes) > 1:
            self._write_batched(writes, write_many)
        else:
            for done, d in enumerate(writes, 1):
                self._write(d)
                if self.renew is not None:
                    self.renew()
                if self.progress is not None:
                    self.progress(done, len(writes))
                if done < len(writes) and self._out_of_time(done, len(writes), "calendar writes"):
                    break
        restores = [d for d in plan.decisions if d.kind == "restore_series" and d.key is not None]
        for done, d in enumerate(restores):
            if self._out_of_time(done, len(restores), "series restores"):
                break
            assert d.key is not None
            self._restore_series(d.key)
        self.deletions()

    def _restore_series(self, key: EventKey) -> None:
        """Puts a recurring series the calendar lost back as one object, from its stored original
        (its occurrences keep their links and come back under the same keys). Never falls back
        to writing the occurrences one by one."""
        session = self.sessions()
        try:
            stored = series_store.original(session, self.account_id, key.calendar_id, key.event_id)
        finally:
            session.close()
        restore = getattr(self.provider, "restore_series", None)  # optional (SeriesRestorer)
        if restore is None:
            self.summary.note("error", "a recurring event",
                              "could not be put back: no stored copy of the series (restore it in the calendar app)")
            return
        try:
            restore(key.calendar_id, key.event_id, stored)
        except AlreadyExists:
            return  # back already (restored elsewhere, or a repeated run)
        except (AuthError, RateLimited):
            raise
        except ProviderError as exc:
            self.summary.note("error", "a recurring event", f"could not be put back: {exc.message}")
            return
        self.summary.pushed += 1

    def _prefetch(self, updates: list[Decision]) -> None:
        """Providers that can read many events in one request (CalDAV multiget, Google batch)
        get the events to be read up front, so N updates cost one read and N writes, not 2N
        requests: those the engine reads first (`Decision.read_first`), and every update when the
        provider rewrites whole objects (`rewrites_whole_objects`, CalDAV: it patches the object it
        holds). Optional: a provider without `prefetch`, or a failed prefetch, falls back to
        per-event reads."""
        prefetch = getattr(self.provider, "prefetch", None)
        if prefetch is None or not updates:
            return
        whole = bool(getattr(self.provider, "rewrites_whole_objects", False))
        by_calendar: dict[str, list[str]] = {}
        for d in updates:
            if d.key is not None and (whole or d.read_first):
                by_calendar.setdefault(d.key.calendar_id, []).append(d.key.event_id)
        for calendar_id, event_ids in by_calendar.items():
            try:
                prefetch(calendar_id, event_ids)
            except (AuthError, RateLimited):
                raise
            except ProviderError:
                return  # each update reads its event itself

    def _event_for(self, session: Session, account: SyncAccount, activity: Activity, link: SyncLink | None,
                   current: Event | None = None) -> Event:
        owner = repo.owner_of(session, account)
        details = repo.details_for(session, activity, self.base_url, owner) if account.include_details else ""
        keep_private = account.private_events == "everyone" and link is not None and link.origin == "calendar" and link.event_private
        return to_event(
            fields_of(activity), calendar_id=account.calendar_id or "", activity_uuid=activity.uuid,
            event_id=link.event_id if link else "", details=details, keep_private=keep_private, base=current,
        )

    def _current(self, link: SyncLink | None) -> Event | None:
        """The event as the calendar holds it now (CalDAV serves it from the prefetch), read only
        when the link says the calendar holds more of some field than the CRM keeps, so that an
        update never writes back less than the calendar holds (mapping.uncut), or when the link is
        an occurrence (its instance's own identity). Any other update is written without a read:
        the provider keeps what it holds that we do not map."""
        if link is None or not reads_first(link.event_cut, link.recurrence_id or ""):
            return None
        instances = self.provider.get_event(link.calendar_id, link.event_id)
        for event in instances:
            if event.recurrence_id == (link.recurrence_id or ""):
                return event
        raise EventNotFound(f"the event {link.event_id} is no longer in the calendar")

    def _write(self, d: Decision) -> None:
        session = self.sessions()
        try:
            account = session.get(SyncAccount, self.account_id)
            activity = session.get(Activity, d.activity_id) if d.activity_id else None
            if account is None or activity is None or activity.deleted or activity.owner_id != account.user_id:
                return
            if self.settings_version is not None and account.settings_version != self.settings_version:
                raise SettingsMoved(SETTINGS_MOVED)  # decided for other settings: write nothing
            link = repo.find_link(session, account.id, d.key) if d.key else repo.link_for_activity(session, account.id, activity.id)
            if d.kind == "push_create" and link is not None:
                return
            if d.kind == "push_update" and (link is None or link.status not in ("linked", "error")):
                return
            send = account.send_invitations
            try:
                current = self._current(link)
                event = self._event_for(session, account, activity, link, current)
                if link is None:
                    written = self._create(session, account, event, send)
                    link = _link(session, account, written.key, activity.origin, activity.id)
                else:
                    written = self.provider.update_event(event, d.etag or link.etag, send_invitations=send)
            except PreconditionFailed:
                self.summary.note("skip", f"activity {activity.id}", "changed in the calendar meanwhile: reconciled on the next run")
                return
            except EventNotFound:
                self.summary.note("skip", f"activity {activity.id}", "its event vanished meanwhile: reconciled on the next run")
                return
            except (AuthError, RateLimited):
                raise
            except ProviderError as exc:
                self._failed(session, account, activity, link, exc.message)
                return
            except SQLAlchemyError:
                raise
            except Exception as exc:  # one bad item never stops the others
                self._failed(session, account, activity, link, unexpected(exc))
                return
            _set_event_side(link, written, account.private_events, self.unmapped)
            _set_crm_side(link, activity, repo.details_digest_of(session, account, activity), written=True, unmapped=self.unmapped)
            self._commit(session)
            self.summary.pushed += 1
        finally:
            session.close()

    def _write_batched(self, decisions: list[Decision], write_many: Callable[[list[Write]], list[Outcome]]) -> None:
        """The same writes as `_write`, sent through the provider's optional `write_many` (Google's
        multipart batch) a chunk at a time: the pre-checks and the bookkeeping are `_write`'s,
        one commit per chunk. A create that meets its own earlier event (AlreadyExists) takes the
        single path, which adopts it."""
        done = 0
        for start in range(0, len(decisions), WRITE_CHUNK):
            if start and self._out_of_time(start, len(decisions), "calendar writes"):
                return
            chunk = decisions[start:start + WRITE_CHUNK]
            single: list[Decision] = []
            session = self.sessions()
            try:
                account = session.get(SyncAccount, self.account_id)
                if account is None:
                    return
                if self.settings_version is not None and account.settings_version != self.settings_version:
                    raise SettingsMoved(SETTINGS_MOVED)
                send = account.send_invitations
                items: list[tuple[Decision, Activity, SyncLink | None]] = []
                writes: list[Write] = []
                for d in chunk:
                    activity = session.get(Activity, d.activity_id) if d.activity_id else None
                    if activity is None or activity.deleted or activity.owner_id != account.user_id:
                        continue
                    link = repo.find_link(session, account.id, d.key) if d.key else repo.link_for_activity(session, account.id, activity.id)
                    if d.kind == "push_create" and link is not None:
                        continue
                    if d.kind == "push_update" and (link is None or link.status not in ("linked", "error")):
                        continue
                    try:
                        current = self._current(link)
                        event = self._event_for(session, account, activity, link, current)
                    except EventNotFound:
                        self.summary.note("skip", f"activity {activity.id}", "its event vanished meanwhile: reconciled on the next run")
                        continue
                    except (AuthError, RateLimited):
                        raise
                    except SQLAlchemyError:
                        raise
                    except Exception as exc:  # one bad item never stops the others
                        self._item_failed(link, activity, exc.message if isinstance(exc, ProviderError) else unexpected(exc))
                        continue
                    if link is None:
                        writes.append(Write("create", event, send_invitations=send))
                    else:
                        writes.append(Write("update", event, etag=d.etag or link.etag, send_invitations=send))
                    items.append((d, activity, link))
                outcomes = write_many(writes) if writes else []
                pushed = 0
                stop: ProviderError | None = None
                for (d, activity, link), outcome in zip(items, outcomes):
                    error = outcome.error
                    if isinstance(error, AlreadyExists) and link is None:
                        single.append(d)
                    elif isinstance(error, PreconditionFailed):
                        self.summary.note("skip", f"activity {activity.id}", "changed in the calendar meanwhile: reconciled on the next run")
                    elif isinstance(error, EventNotFound):
                        self.summary.note("skip", f"activity {activity.id}", "its event vanished meanwhile: reconciled on the next run")
                    elif isinstance(error, (AuthError, RateLimited)):
                        stop = stop or error
                    elif error is not None:
                        self._item_failed(link, activity, error.message)
                    elif outcome.event is not None:
                        written = outcome.event
                        if link is None:
                            link = _link(session, account, written.key, activity.origin, activity.id)
                        _set_event_side(link, written, account.private_events, self.unmapped)
                        _set_crm_side(link, activity, repo.details_digest_of(session, account, activity), written=True,
                                      unmapped=self.unmapped)
                        pushed += 1
                self._commit(session)
                self.summary.pushed += pushed
                if stop is not None:
                    raise stop
            finally:
                session.close()
            for d in single:
                self._write(d)
            done += len(chunk)
            if self.renew is not None:
                self.renew()
            if self.progress is not None:
                self.progress(done, len(decisions))

    def _item_failed(self, link: SyncLink | None, activity: Activity, reason: str) -> None:
        """`_failed` for one item of a batch: marks it without rolling back the others."""
        message = f"not written to the calendar: {reason}"
        if link is not None and link.id:
            link.status, link.error = "error", message
        self.summary.note("error", f"activity {activity.id}", message, activity_id=activity.id)

    def _failed(self, session: Session, account: SyncAccount, activity: Activity, link: SyncLink | None, reason: str) -> None:
        """A write the calendar refused (or that failed) shows on the item as `error` with the
        reason, and in the run's log (an activity with no link yet finds its reason there)."""
        message = f"not written to the calendar: {reason}"
        activity_id, account_id = activity.id, account.id
        key = EventKey(link.calendar_id, link.event_id, link.recurrence_id or "") if link is not None and link.id else None
        session.rollback()
        link = repo.find_link(session, account_id, key) if key is not None else None
        if link is not None:
            link.status, link.error = "error", message
            self._commit(session)
        self.summary.note("error", f"activity {activity_id}", message, activity_id=activity_id)

    def _create(self, session: Session, account: SyncAccount, event: Event, send: bool) -> Event:
        """Create, or adopt the event a crashed earlier create already made (same activity id), or
        bring back the deleted event whose id is still taken (the provider's optional
        `undelete_event`: Google keeps deleted ids)."""
        try:
            return self.provider.create_event(event, send_invitations=send)
        except AlreadyExists:
            assert event.activity_uuid is not None
            found = self.provider.find_by_activity_id(event.calendar_id, event.activity_uuid)
            undelete = getattr(self.provider, "undelete_event", None)  # optional (Undeleter)
            if found is None and undelete is not None:
                try:
                    return undelete(event, send_invitations=send)  # type: ignore[no-any-return]
                except EventNotFound:
                    pass
            if found is None:
                raise ProviderError("the calendar reports the event exists but cannot find it") from None
            hold_settings(session, account.id, self.settings_version)  # the account row before links (lock order)
            repo.drop_outbox_for(session, account.id, found.calendar_id, found.event_id)
            repo.drop_deleting_links(session, account.id, found.calendar_id, found.event_id)
            session.flush()
            event.event_id = found.event_id
            return self.provider.update_event(event, found.etag, send_invitations=send)

    def deletions(self) -> None:
        """Works off the outbox: each row is a committed decision to delete an event."""
        session = self.sessions()
        try:
            due = repo.due_outbox(session, self.account_id, self.now)
            for done, row in enumerate(due):
                if self._out_of_time(done, len(due), "queued calendar deletions"):
                    break
                if not self._delete(session, row):
                    break
                if self.renew is not None:
                    self.renew()
        finally:
            session.close()

    def _delete(self, session: Session, row: SyncOutbox) -> bool:
        try:
            try:
                self.provider.delete_event(row.calendar_id, row.event_id, row.etag)
            except PreconditionFailed:
                self.summary.note("conflict", "an event", "edited in the calendar after it was deleted in the CRM: the deletion wins")
                self.provider.delete_event(row.calendar_id, row.event_id, None)
        except (AuthError, RateLimited):
            raise
        except Exception as exc:  # any failure (a refusal or worse): this row waits, the others go on
            message = exc.message if isinstance(exc, ProviderError) else unexpected(exc)
            row.attempts += 1
            row.last_error = message
            row.next_attempt_at = self.now + dt.timedelta(seconds=min(3600, 30 * 2 ** row.attempts))
            self._commit(session)
            self.summary.note("error", "an event", f"could not be deleted yet (retried later): {message}")
            return True
        # the account row first, then links and the outbox row: the order every writer keeps
        hold_settings(session, self.account_id, self.settings_version)
        repo.drop_deleting_links(session, self.account_id, row.calendar_id, row.event_id)
        session.delete(row)
        self._commit(session)
        self.summary.deleted += 1
        return True
