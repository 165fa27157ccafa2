"""Every database read and write of the sync engine, in one place: snapshots for the pure
decision, and the small writes to links, origins, runs and the outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from calsync.store.tables import (
    Activity,
    ActivityType,
    Deal,
    Organization,
    Person,
    SyncAccount,
    SyncLink,
    SyncOrigin,
    SyncOutbox,
    SyncRun,
    User,
)
from calsync.crm.permissions import can_see_item
from calsync.sync.mapping import details_digest, details_text, fields_of
from calsync.sync.model import Event, EventKey
from calsync.sync.reconcile import AccountSettings, CrmItem, CrmState, LinkState, Pulled


def settings_of(account: SyncAccount) -> AccountSettings:
    return AccountSettings(
        owner_id=account.user_id,
        calendar_id=account.calendar_id or "",
        sync_type=account.sync_type,
        private_events=account.private_events,  # type: ignore[arg-type]
        import_type=account.import_type_key,
        push_types=frozenset(account.push_types) if account.push_types is not None else None,
        external_event_visibility=account.external_event_visibility,
    )


def account_of_user(session: Session, user_id: int) -> SyncAccount | None:
    return session.scalar(select(SyncAccount).where(SyncAccount.user_id == user_id))


def lock_account(session: Session, account: SyncAccount) -> None:
    """Holds the account row until the caller's commit (a no-op UPDATE: a row lock on PostgreSQL,
    the write lock on SQLite) and reloads it, so a settings change and a run's commit never
    interleave: whoever comes second sees what the first committed."""
    session.execute(
        update(SyncAccount).where(SyncAccount.id == account.id)
        .values(settings_version=SyncAccount.settings_version).execution_options(synchronize_session=False)
    )
    session.refresh(account)


def settings_unchanged(session: Session, account_id: int, version: int) -> bool:
    """True while the account's settings are still at `version`; also holds the account row until
    the caller's commit, so settings cannot move between this check and that commit."""
    with session.no_autoflush:  # checked before this session's own writes are sent
        held = session.execute(
            update(SyncAccount).where(SyncAccount.id == account_id, SyncAccount.settings_version == version)
            .values(settings_version=version).execution_options(synchronize_session=False)
        )
    return bool(held.rowcount)  # type: ignore[attr-defined]


def type_keys(session: Session, company_id: int) -> dict[int, str]:
    rows = session.execute(select(ActivityType.id, ActivityType.key).where(ActivityType.company_id == company_id))
    return {row[0]: row[1] for row in rows}


def crm_item(activity: Activity, keys: dict[int, str], details: str | None = None) -> CrmItem:
    """`details`: the digest of the activity's deal/contact block, when the account writes it."""
    return CrmItem(
        id=activity.id,
        uuid=activity.uuid,
        owner_id=activity.owner_id,
        version=activity.version,
        updated_at=activity.updated_at,
        deleted=activity.deleted,
        type_key=keys.get(activity.type_id, ""),
        origin=activity.origin,
        read_only=activity.read_only,
        fields=fields_of(activity),
        details=details,
    )


def link_rows(session: Session, account: SyncAccount) -> list[SyncLink]:
    return list(
        session.scalars(
            select(SyncLink).where(SyncLink.account_id == account.id, SyncLink.calendar_id == (account.calendar_id or ""))
        )
    )


def link_state(link: SyncLink) -> LinkState:
    return LinkState(
        id=link.id,
        activity_id=link.activity_id,
        key=EventKey(link.calendar_id, link.event_id, link.recurrence_id or ""),
        origin=link.origin,
        etag=link.etag,
        crm_hash=link.crm_hash,
        event_hash=link.event_hash,
        synced_version=link.synced_version,
        status=link.status,
        event_end=link.event_end,
        event_private=link.event_private,
        event_cut=link.event_cut,
    )


def live_link_count(session: Session, account: SyncAccount) -> int:
    """How many pairs are synced (the mass-deletion guard's base), counted without loading them."""
    return session.scalar(
        select(func.count(SyncLink.id)).where(
            SyncLink.account_id == account.id,
            SyncLink.calendar_id == (account.calendar_id or ""),
            SyncLink.status.in_(("linked", "error")),
        )
    ) or 0


def _chunks(values: set[Any], size: int = 500) -> list[list[Any]]:
    items = sorted(values)
    return [items[i:i + size] for i in range(0, len(items), size)]


def relevant_links(session: Session, account: SyncAccount, pulled: Pulled, activity_ids: set[int]) -> list[SyncLink]:
    """The links a run that is not a full re-evaluation can act on: those whose activity changed
    since it was last synced (version moved, or the row is gone), those the listing names (an
    event, a tombstone, a complete series), and those holding the activities the listing's
    events point to (so a second event never adopts an activity already paired). Every other
    link has nothing new on either side, so deciding it would yield nothing."""
    of_account = (SyncLink.account_id == account.id, SyncLink.calendar_id == (account.calendar_id or ""))
    found: dict[int, SyncLink] = {}
    changed = (
        select(SyncLink)
        .outerjoin(Activity, Activity.id == SyncLink.activity_id)
        .where(*of_account, or_(Activity.id.is_(None), Activity.version != SyncLink.synced_version))
    )
    for link in session.scalars(changed):
        found[link.id] = link
    event_ids = {e.event_id for e in pulled.events} | {k.event_id for k in pulled.tombstones} | set(pulled.complete_series)
    event_ids |= set(pulled.skipped)  # unreadable objects: their links are held, and named in the log
    for chunk in _chunks(event_ids):
        for link in session.scalars(select(SyncLink).where(*of_account, SyncLink.event_id.in_(chunk))):
            found[link.id] = link
    for chunk in _chunks(activity_ids):
        for link in session.scalars(select(SyncLink).where(*of_account, SyncLink.activity_id.in_(chunk))):
            found[link.id] = link
    return list(found.values())


def unechoed(session: Session, account: SyncAccount, pulled: Pulled, run_id: int | None) -> set[str]:
    """Events this engine created after the stored cursor was taken that this incremental listing
    does not name. A listing normally names them (the echo of our own writes); Graph's delta
    reports as deleted only what one of its rounds has shown, so an event pushed after the cursor
    and deleted before the next listing would never be reported: the engine reads these. The
    bound is the start of the last run that ended ok (its listing, or a fetch, saw every older
    link); a later bound could miss links, an earlier one only reads a few more."""
    since = session.scalar(select(func.max(SyncRun.started_at)).where(
        SyncRun.account_id == account.id, SyncRun.id != run_id, SyncRun.status.in_(("ok", "partial"))))
    if since is None or pulled.full:
        return set()
    named = ({e.event_id for e in pulled.events} | {k.event_id for k in pulled.tombstones}
             | {k.event_id for k in pulled.left_window} | set(pulled.skipped) | set(pulled.complete_series))
    created = session.scalars(select(SyncLink.event_id).where(
        SyncLink.account_id == account.id, SyncLink.calendar_id == (account.calendar_id or ""),
        SyncLink.origin == "crm", SyncLink.status.in_(("linked", "error")), SyncLink.recurrence_id == "",
        SyncLink.created_at >= since))
    return set(created) - named


def crm_state(session: Session, account: SyncAccount, links: list[SyncLink] | None, pulled: Pulled,
              now: dt.datetime | None = None) -> CrmState:
    """The CRM side the decision needs: the owner's unlinked live activities, the activities that
    listed events name (our ids, earlier imports) and, when `links` is given, the linked ones
    (else call `add_linked` once the links are chosen)."""
    keys = type_keys(session, account.company_id)
    digest = _digester(session, account)
    any_link = select(SyncLink.activity_id).where(SyncLink.account_id == account.id, SyncLink.activity_id.is_not(None))
    unlinked = [
        crm_item(a, keys, digest(a))
        for a in session.scalars(
            select(Activity).where(
                Activity.owner_id == account.user_id,
                Activity.deleted.is_(False),
                Activity.read_only.is_(False),
                Activity.id.not_in(any_link),
                # past items are never pushed: skip the rows that surely ended (span_end is at or after the end)
                *([Activity.span_end > now - dt.timedelta(days=1)] if now is not None else []),
            )
        )
    ]
    uuids = {e.activity_uuid for e in pulled.events if e.activity_uuid}
    by_uuid: dict[str, CrmItem] = {}
    for chunk in _chunks(uuids):
        for activity in session.scalars(select(Activity).where(Activity.uuid.in_(chunk))):
            by_uuid[activity.uuid] = crm_item(activity, keys, digest(activity))
    origins: dict[EventKey, CrmItem | None] = {}
    listed = {e.key for e in pulled.events}
    if listed:
        rows = session.scalars(
            select(SyncOrigin).where(SyncOrigin.user_id == account.user_id, SyncOrigin.calendar_id == (account.calendar_id or ""))
        )
        for row in rows:
            key = EventKey(row.calendar_id, row.event_id, row.recurrence_id or "")
            if key in listed:
                activity = session.get(Activity, row.activity_id) if row.activity_id else None
                origins[key] = crm_item(activity, keys, digest(activity)) if activity is not None else None
    crm = CrmState(linked={}, unlinked=unlinked, by_uuid=by_uuid, origins=origins)
    if links is not None:
        add_linked(session, account, crm, links)
    return crm


def named_activity_ids(crm: CrmState) -> set[int]:
    """Activities the listed events point to (by our id or an earlier import)."""
    return {i.id for i in crm.by_uuid.values()} | {i.id for i in crm.origins.values() if i is not None}


def add_linked(session: Session, account: SyncAccount, crm: CrmState, links: list[SyncLink]) -> None:
    keys = type_keys(session, account.company_id)
    digest = _digester(session, account)
    linked_ids = {link.activity_id for link in links if link.activity_id is not None}
    for chunk in _chunks(linked_ids):
        for activity in session.scalars(select(Activity).where(Activity.id.in_(chunk))):
            crm.linked[activity.id] = crm_item(activity, keys, digest(activity))


def find_link(session: Session, account_id: int, key: EventKey) -> SyncLink | None:
    return session.scalar(
        select(SyncLink).where(
            SyncLink.account_id == account_id,
            SyncLink.calendar_id == key.calendar_id,
            SyncLink.event_id == key.event_id,
            SyncLink.recurrence_id == key.recurrence_id,
        )
    )


def link_for_activity(session: Session, account_id: int, activity_id: int) -> SyncLink | None:
    return session.scalar(select(SyncLink).where(SyncLink.account_id == account_id, SyncLink.activity_id == activity_id))


def remember_origin(session: Session, user_id: int, key: EventKey, activity_id: int) -> None:
    row = session.scalar(
        select(SyncOrigin).where(
            SyncOrigin.user_id == user_id,
            SyncOrigin.calendar_id == key.calendar_id,
            SyncOrigin.event_id == key.event_id,
            SyncOrigin.recurrence_id == key.recurrence_id,
        )
    )
    if row is None:
        session.add(SyncOrigin(user_id=user_id, calendar_id=key.calendar_id, event_id=key.event_id, recurrence_id=key.recurrence_id, activity_id=activity_id))
    else:
        row.activity_id = activity_id


def event_end(event: Event) -> dt.datetime | None:
    if event.all_day and event.end_date:
        return dt.datetime.combine(event.end_date, dt.time(), dt.timezone.utc) + dt.timedelta(hours=12)
    return event.end


def queue_delete(session: Session, account_id: int, key: EventKey, etag: str | None, now: dt.datetime) -> None:
    exists = session.scalar(
        select(SyncOutbox.id).where(SyncOutbox.account_id == account_id, SyncOutbox.calendar_id == key.calendar_id, SyncOutbox.event_id == key.event_id)
    )
    if exists is None:
        session.add(SyncOutbox(account_id=account_id, calendar_id=key.calendar_id, event_id=key.event_id, etag=etag, next_attempt_at=now))


def due_outbox(session: Session, account_id: int, now: dt.datetime) -> list[SyncOutbox]:
    return list(
        session.scalars(
            select(SyncOutbox).where(SyncOutbox.account_id == account_id, SyncOutbox.next_attempt_at <= now).order_by(SyncOutbox.id)
        )
    )


def drop_outbox_for(session: Session, account_id: int, calendar_id: str, event_id: str) -> None:
    session.execute(
        delete(SyncOutbox).where(SyncOutbox.account_id == account_id, SyncOutbox.calendar_id == calendar_id, SyncOutbox.event_id == event_id)
    )


def drop_deleting_links(session: Session, account_id: int, calendar_id: str, event_id: str) -> None:
    session.execute(
        delete(SyncLink).where(
            SyncLink.account_id == account_id, SyncLink.calendar_id == calendar_id, SyncLink.event_id == event_id, SyncLink.status == "deleting"
        )
    )


def details_for(session: Session, activity: Activity, base_url: str, reader: User) -> str:
    """The generated deal/contact block for an activity written into `reader`'s calendar: only
    the linked items `reader` may see now (an admin may link a deal or contact its owner keeps
    to themself; an item may become owner-only later: `touch_linked` then marks the activity
    changed, and the next run writes the block again without it)."""
    deal = session.get(Deal, activity.deal_id) if activity.deal_id else None
    person = session.get(Person, activity.person_id) if activity.person_id else None
    org = session.get(Organization, activity.org_id) if activity.org_id else None
    deal, person, org = (item if can_see_item(reader, item) else None for item in (deal, person, org))  # type: ignore[assignment]
    return details_text(
        deal.title if deal else None,
        (person.name, list(person.emails or []), list(person.phones or [])) if person else None,
        org.name if org else None,
        f"{base_url.rstrip('/')}/activities/{activity.id}",
    )


def details_digest_of(session: Session, account: SyncAccount, activity: Activity) -> str | None:
    """The digest of the block the account's calendar gets for this activity (None: no block).
    Computed without the CRM's address, so moving the CRM does not count as a change."""
    if not account.include_details:
        return None
    return details_digest(details_for(session, activity, "", owner_of(session, account)))


def _digester(session: Session, account: SyncAccount) -> Callable[[Activity], str | None]:
    if not account.include_details:
        return lambda activity: None
    return lambda activity: details_digest_of(session, account, activity)


def owner_of(session: Session, account: SyncAccount) -> User:
    user = session.get(User, account.user_id)
    assert user is not None
    return user


def new_run(session: Session, account: SyncAccount, trigger: str, now: dt.datetime) -> SyncRun:
    run = SyncRun(account_id=account.id, trigger=trigger, started_at=now, status="running", entries=[])
    session.add(run)
    session.flush()
    return run


def close_orphaned_runs(session: Session, account_id: int, now: dt.datetime, reason: str) -> int:
    """Closes the account's runs still marked running (call it only while holding the lease:
    then no such run is alive, its process died). Returns how many were closed."""
    runs = list(session.scalars(select(SyncRun).where(SyncRun.account_id == account_id, SyncRun.status == "running")))
    for run in runs:
        run.status, run.error, run.finished_at = "abandoned", reason, now
        run.entries = list(run.entries or []) + [{"kind": "error", "item": "sync", "message": reason}]
    return len(runs)


def running_run(session: Session, account_id: int) -> SyncRun | None:
    """The account's run going on now, if any (the newest one still marked running)."""
    return session.scalar(
        select(SyncRun).where(SyncRun.account_id == account_id, SyncRun.status == "running").order_by(SyncRun.id.desc()).limit(1)
    )


def latest_run_id(session: Session, account_id: int) -> int | None:
    return session.scalar(select(func.max(SyncRun.id)).where(SyncRun.account_id == account_id))


def recent_runs(session: Session, account_id: int, limit: int = 20) -> list[SyncRun]:
    return list(
        session.scalars(select(SyncRun).where(SyncRun.account_id == account_id).order_by(SyncRun.id.desc()).limit(limit))
    )


def delete_links(session: Session, account_id: int) -> None:
    session.execute(delete(SyncLink).where(SyncLink.account_id == account_id))
    session.execute(delete(SyncOutbox).where(SyncOutbox.account_id == account_id))


def active_account_ids(session: Session) -> list[int]:
    return list(session.scalars(select(SyncAccount.id).where(SyncAccount.enabled.is_(True))))


def pending_counts(session: Session, account_id: int) -> dict[str, Any]:
    return {"outbox": len(list(session.scalars(select(SyncOutbox.id).where(SyncOutbox.account_id == account_id))))}
