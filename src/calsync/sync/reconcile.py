"""The decision: a pure function of (links, pulled changes, CRM state, settings, now) -> a plan.

No I/O here, so every rule is property-tested. Per pair it is a three-way comparison against the
hashes stored at the last sync: a side changed only if its version/etag moved AND its content
hash differs. One side changed: copy it over. Both, identically: record. Both, differently: the
newer wins and the conflict is logged. Deletions come only from tombstones or complete listings;
a plan that deletes too much, or follows a side that suddenly lists nothing, asks first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from calsync.sync.mapping import (
    PrivateMode, SyncedFields, content_hash, crm_side_hash, cut_notes, details_part, mapped, to_crm, with_details_part,
)
from calsync.sync.model import Event, EventKey
from calsync.sync.provider import Window

DeletionPolicy = Literal["ask", "confirmed", "cancelled"]
MASS_DELETE_MIN, MASS_DELETE_SHARE = 10, 0.2

# Inbound kinds are applied in the transaction that advances the cursor; outbound kinds are
# provider calls made after that commit.
INBOUND = {"import", "adopt", "update_activity", "trash_activity", "restore_activity", "record", "drop_link", "detach"}
OUTBOUND = {"push_create", "push_update", "push_delete", "restore_series"}


@dataclass(frozen=True)
class AccountSettings:
    owner_id: int
    calendar_id: str
    sync_type: str = "two_way"
    private_events: PrivateMode = "busy_block"
    import_type: str = "meeting"
    push_types: frozenset[str] | None = None
    external_event_visibility: str = "everyone"
    # synced fields the provider cannot carry (its `unmapped_fields`): left out of both hashes
    unmapped: frozenset[str] = frozenset()

    def pushes(self, type_key: str) -> bool:
        return self.push_types is None or type_key in self.push_types


@dataclass(frozen=True)
class LinkState:
    id: int
    activity_id: int | None
    key: EventKey
    origin: str
    etag: str | None
    crm_hash: str | None
    event_hash: str | None
    synced_version: int
    status: str = "linked"
    event_end: dt.datetime | None = None
    event_private: bool = False
    event_cut: bool = False  # the calendar holds more of some field than the CRM keeps


@dataclass(frozen=True)
class CrmItem:
    id: int
    uuid: str
    owner_id: int
    version: int
    updated_at: dt.datetime
    deleted: bool
    type_key: str
    origin: str
    read_only: bool
    fields: SyncedFields
    details: str | None = None  # digest of the deal/contact block, when the account writes it


@dataclass
class Pulled:
    """Everything listed in this run (all pages). `full` means complete evidence for `window`.

    `skipped`: objects present but unreadable (id -> reason); they keep their links. `members`:
    the provider's membership listing of a full listing (every object id), when it has one; an id
    in it is present, whatever the windowed listing said. `left_window`: items the provider
    says still exist but moved out of the window (never a deletion; their links stay)."""

    events: list[Event]
    tombstones: list[EventKey]
    full: bool
    complete_series: set[str]
    window: Window
    skipped: dict[str, str] = field(default_factory=dict)
    members: set[str] | None = None
    left_window: set[EventKey] = field(default_factory=set)


@dataclass
class CrmState:
    linked: dict[int, CrmItem]  # activities referenced by links, by id
    unlinked: list[CrmItem]  # the owner's live activities that have no link
    by_uuid: dict[str, CrmItem]  # activities named by events' activity ids
    origins: dict[EventKey, CrmItem | None]  # imported before (kept across reconnects)


@dataclass
class Decision:
    kind: str
    key: EventKey | None = None
    activity_id: int | None = None
    event: Event | None = None
    etag: str | None = None
    reason: str = ""
    counts_as_deletion: bool = False
    read_first: bool = False  # push_update: read the event before writing it (see reads_first)


@dataclass
class Plan:
    decisions: list[Decision] = field(default_factory=list)
    log: list[dict[str, str]] = field(default_factory=list)
    guard: str | None = None  # why the run must ask before deleting

    def add(self, kind: str, **values: object) -> None:
        self.decisions.append(Decision(kind, **values))  # type: ignore[arg-type]

    def note(self, kind: str, item: str, message: str) -> None:
        self.log.append({"kind": kind, "item": item, "message": message})

    @property
    def deletions(self) -> list[Decision]:
        return [d for d in self.decisions if d.counts_as_deletion]


def event_label(event: Event) -> str:
    """How an event is named in the run log: never the title of a private event."""
    return "a private event" if event.is_private else f"event \"{event.summary[:80]}\""


def activity_label(item: CrmItem) -> str:
    return f"activity {item.id}" + (" (private)" if item.fields.private else "")


def event_hash(event: Event, mode: PrivateMode, unmapped: frozenset[str] = frozenset()) -> str:
    return content_hash(mapped(to_crm(event, mode), unmapped))


# ---------------------------------------------------------------------- per pair


def _event_changed(link: LinkState, event: Event, mode: PrivateMode, unmapped: frozenset[str] = frozenset()) -> bool:
    return event.etag != link.etag and event_hash(event, mode, unmapped) != link.event_hash


def _crm_changed(link: LinkState, item: CrmItem, unmapped: frozenset[str] = frozenset()) -> bool:
    return item.version != link.synced_version and crm_side_hash(mapped(item.fields, unmapped), item.details) != link.crm_hash


def _only_block_changed(link: LinkState, item: CrmItem, unmapped: frozenset[str] = frozenset()) -> bool:
    """The activity's synced fields are as last synced; only its deal/contact block moved (a
    linked deal, person or organization changed). Such a change never overrides a calendar edit:
    the edit is taken in, and the block is written at the next run."""
    part = details_part(link.crm_hash)
    return part is not None and item.details is not None and with_details_part(mapped(item.fields, unmapped), part) == link.crm_hash


def reads_first(event_cut: bool, recurrence_id: str) -> bool:
    """Whether an update must read the event as the calendar holds it first: when the calendar
    holds more of some field than the CRM keeps (its whole value is written back unless the user
    changed it, mapping.uncut), or for an occurrence (written through its instance's identity)."""
    return event_cut or bool(recurrence_id)


def _update(plan: Plan, link: LinkState, item: CrmItem, etag: str | None) -> None:
    plan.add("push_update", key=link.key, activity_id=item.id, etag=etag,
             read_first=reads_first(link.event_cut, link.key.recurrence_id))


def _is_newer(event: Event, item: CrmItem) -> bool:
    return event.updated is not None and event.updated > item.updated_at


def mode_for(private_events: PrivateMode, origin: str) -> PrivateMode:
    """The private-events setting governs events born in the calendar; for events the CRM made,
    the provider's privacy flag maps one to one to the activity's."""
    return private_events if origin == "calendar" else "busy_block"


def _pair(plan: Plan, s: AccountSettings, link: LinkState, item: CrmItem | None, event: Event | None, gone: bool,
          fresh: bool = False) -> None:
    """One linked pair. `event` None and not `gone`: the event did not change in this listing.
    `fresh`: a pair adopted just now (after a reconnect), with no earlier sync to compare with, so
    sides that differ are no conflict: the newer one is kept and logged as such."""
    mode = mode_for(s.private_events, link.origin)
    crm_gone = item is None or item.deleted
    became_private = event is not None and event.is_private and not link.event_private and event.etag != link.etag
    if event is not None and (event.status == "cancelled" or (became_private and mode == "skip" and link.origin == "calendar")):
        gone, event = True, None
    if crm_gone and gone:
        plan.add("drop_link", key=link.key)
        return
    if gone:
        assert item is not None
        if item.owner_id != s.owner_id or (item.origin == "crm" and not s.pushes(item.type_key)):
            plan.add("drop_link", key=link.key)
            return
        if _crm_changed(link, item, s.unmapped):
            plan.note("conflict", activity_label(item), "deleted in the calendar while edited in the CRM: the deletion wins (restore it from the trash)")
        plan.add("trash_activity", key=link.key, activity_id=item.id, reason="deleted in your calendar", counts_as_deletion=True)
        return
    if crm_gone:
        if link.key.recurrence_id:
            plan.add("detach", key=link.key, reason="an occurrence of a recurring event cannot be deleted from the CRM")
            return
        if event is not None and _event_changed(link, event, mode, s.unmapped):
            plan.note("conflict", event_label(event), "edited in the calendar while deleted in the CRM: the deletion wins")
        plan.add("push_delete", key=link.key, etag=event.etag if event else link.etag, activity_id=link.activity_id, counts_as_deletion=True)
        return
    assert item is not None
    if item.owner_id != s.owner_id:
        if link.origin == "crm" and not link.key.recurrence_id:
            plan.add("push_delete", key=link.key, etag=link.etag, activity_id=item.id, counts_as_deletion=True, reason="given to another user")
        else:
            plan.add("detach", key=link.key, reason="given to another user")
        plan.note("skip", activity_label(item), "now belongs to another user: no longer synced to this calendar")
        return
    if item.origin == "crm" and not s.pushes(item.type_key) and not link.key.recurrence_id:
        plan.add("push_delete", key=link.key, etag=event.etag if event else link.etag, activity_id=item.id, counts_as_deletion=True, reason="type not pushed")
        plan.note("skip", activity_label(item), f"type '{item.type_key}' is no longer sent to the calendar: its event is removed")
        return
    ev_changed = event is not None and _event_changed(link, event, mode, s.unmapped)
    crm_changed = _crm_changed(link, item, s.unmapped) and not item.read_only
    if ev_changed and crm_changed and _only_block_changed(link, item, s.unmapped):
        plan.add("update_activity", key=link.key, activity_id=item.id, event=event)
    elif ev_changed and crm_changed:
        assert event is not None
        kind, why = ("adopt", "linked again after a reconnect and the two sides differ") if fresh else (
            "conflict", "changed on both sides")
        if mapped(to_crm(event, mode), s.unmapped) == mapped(item.fields, s.unmapped):
            plan.add("record", key=link.key, activity_id=item.id, event=event)
        elif _is_newer(event, item):
            plan.note(kind, activity_label(item), f"{why}: the calendar's change is newer and wins")
            plan.add("update_activity", key=link.key, activity_id=item.id, event=event)
        else:
            plan.note(kind, activity_label(item), f"{why}: the CRM's change is newer and wins")
            plan.add("record", key=link.key, activity_id=item.id, event=event, reason="keep_crm_hash")
            _update(plan, link, item, event.etag)
    elif ev_changed:
        plan.add("update_activity", key=link.key, activity_id=item.id, event=event)
    elif crm_changed:
        if event is not None and event.etag != link.etag:
            plan.add("record", key=link.key, activity_id=item.id, event=event, reason="keep_crm_hash")
        _update(plan, link, item, event.etag if event else link.etag)
    elif event is not None and event.etag != link.etag:
        plan.add("record", key=link.key, activity_id=item.id, event=event, reason="keep_crm_hash" if item.read_only else "")
    elif item.version != link.synced_version:
        plan.add("record", key=link.key, activity_id=item.id, reason="version_only")


# ---------------------------------------------------------------------- first sight


def _first_sight(plan: Plan, s: AccountSettings, event: Event, crm: CrmState, taken: set[int], now: dt.datetime) -> None:
    """An event with no link: adopt ours, or import it when the settings let it in."""
    if event.status == "cancelled":
        return
    mine = crm.by_uuid.get(event.activity_uuid or "")
    if mine is not None:
        if mine.owner_id != s.owner_id:
            plan.note("skip", event_label(event), "carries another user's activity id: left alone")
            return
        if mine.deleted:
            plan.add("push_delete", key=event.key, etag=event.etag, activity_id=mine.id, reason="activity was deleted", counts_as_deletion=True)
            return
        if mine.id in taken:
            plan.note("skip", event_label(event), f"a second event for {activity_label(mine)}: left alone")
            return
        taken.add(mine.id)
        plan.add("adopt", key=event.key, activity_id=mine.id, event=event, reason=mine.origin)
        _pair(plan, s, _fresh_link(event, mine), mine, event, False, fresh=True)
        return
    if event.key in crm.origins:
        known = crm.origins[event.key]
        if known is None or known.deleted or known.owner_id != s.owner_id:
            plan.note("skip", event_label(event), "imported before and its activity was deleted or given away: not imported again")
            return
        if known.id in taken:
            return
        taken.add(known.id)
        plan.add("adopt", key=event.key, activity_id=known.id, event=event, reason="calendar")
        _pair(plan, s, _fresh_link(event, known), known, event, False, fresh=True)
        return
    if s.sync_type == "one_way":
        plan.note("skip", event_label(event), "one-way sync: events made in the calendar are not imported")
        return
    if event.is_private and s.private_events == "skip":
        plan.note("skip", event_label(event), "private event: your settings do not sync private events")
        return
    if event.ends_before(now):
        plan.note("skip", event_label(event), "already over when first seen: past events are not imported")
        return
    plan.add("import", key=event.key, event=event)


def _fresh_link(event: Event, item: CrmItem) -> LinkState:
    """An adopted pair starts with no history, so both sides count as changed."""
    return LinkState(id=0, activity_id=item.id, key=event.key, origin=item.origin, etag=None, crm_hash=None, event_hash=None,
                     synced_version=0, event_cut=bool(cut_notes(event)))


# ---------------------------------------------------------------------- the whole account


def _missing_is_gone(link: LinkState, pulled: Pulled) -> bool:
    """Whether a link absent from this listing is proven gone (complete evidence only)."""
    # Only what the listing had to contain counts: events that end inside the window. Events
    # further out than the horizon are gone only by tombstone, whatever the provider lists.
    if link.key.event_id in pulled.skipped:
        return False  # present but unreadable: skipped is not missing
    in_window = link.event_end is None or pulled.window.start < link.event_end <= pulled.window.end
    if link.key.recurrence_id and link.key.event_id in pulled.complete_series:
        return in_window
    if pulled.members is not None and link.key.event_id in pulled.members:
        return False  # the membership listing names it: listings disagree, so nothing is proven
    return pulled.full and in_window


def _left_window(live: dict[EventKey, LinkState], pulled: Pulled) -> set[EventKey]:
    """Linked keys the provider reports as moved out of the window: present, so neither side is
    touched (a key without recurrence id stands for every occurrence of that object)."""
    out: set[EventKey] = set()
    for key in pulled.left_window:
        if key.recurrence_id:
            out.add(key)
        else:
            out.update(k for k in live if k.event_id == key.event_id and k.calendar_id == key.calendar_id)
    return out


def unconfirmed(links: list[LinkState], pulled: Pulled) -> set[str]:
    """Object ids the listings disagree on: linked, named by the membership listing, yet absent
    from the windowed listing. The engine fetches them before deciding (deletion needs agreeing
    evidence: a tombstone, or absence from the membership listing)."""
    if not pulled.full or pulled.members is None:
        return set()
    listed = {e.key for e in pulled.events}
    return {
        link.key.event_id
        for link in links
        if link.status in ("linked", "error") and link.key not in listed and link.key.event_id in pulled.members
        and link.key.event_id not in pulled.skipped and link.key.event_id not in pulled.complete_series
    }


def _note_unreadable(plan: Plan, links: list[LinkState], crm: CrmState, pulled: Pulled) -> set[EventKey]:
    """Objects the provider cannot read: their links, activities and events are left alone, and
    the reason goes to the run log (never a title; a private item is named as such)."""
    held: set[EventKey] = set()
    for item_id, reason in sorted(pulled.skipped.items()):
        mine = [link for link in links if link.key.event_id == item_id and link.status in ("linked", "error")]
        held.update(link.key for link in mine)
        items = [crm.linked.get(link.activity_id) for link in mine if link.activity_id is not None]
        private = any(link.event_private for link in mine) or any(i is not None and i.fields.private for i in items)
        if private:
            label = "a private event"
        elif items and items[0] is not None:
            label = activity_label(items[0]) + ("" if len(items) == 1 else f" and {len(items) - 1} more occurrences")
        else:
            label = f"calendar item {item_id.rstrip('/').rsplit('/', 1)[-1]}"
        kept = ": it and its activity are left as they are until it can be read" if mine else ": left alone"
        plan.note("skip", label, f"cannot be read ({reason}){kept}")
    return held


def decide(
    links: list[LinkState],
    pulled: Pulled,
    crm: CrmState,
    s: AccountSettings,
    now: dt.datetime,
    policy: DeletionPolicy = "ask",
    live_count: int | None = None,
) -> Plan:
    """`links` may be only the links that can act in this run (see repository.relevant_links);
    `live_count` then says how many synced pairs there are in all, for the mass-deletion guard."""
    plan = Plan()
    live = {link.key: link for link in links if link.status in ("linked", "error")}
    ignored = {link.key for link in links if link.status not in ("linked", "error")}
    listed: dict[EventKey, Event] = {}
    for event in pulled.events:
        listed[event.key] = event
    gone: set[EventKey] = set()
    for key in pulled.tombstones:
        if key.recurrence_id:
            gone.add(key)
        else:
            gone.update(k for k in live if k.event_id == key.event_id and k.calendar_id == key.calendar_id)
    gone -= set(listed)
    held = _note_unreadable(plan, links, crm, pulled)
    gone -= held
    moved_out = _left_window(live, pulled)
    gone -= moved_out
    for key, link in live.items():
        if key not in listed and key not in gone and key not in moved_out and _missing_is_gone(link, pulled):
            gone.add(key)
    taken = {link.activity_id for link in live.values() if link.activity_id is not None}
    for key, link in live.items():
        if key in held and key not in listed:
            continue  # unreadable in the calendar: neither side is touched until it can be read
        item = crm.linked.get(link.activity_id) if link.activity_id is not None else None
        _pair(plan, s, link, item, listed.get(key), key in gone)
    for key, event in listed.items():
        if key not in live and key not in ignored:
            _first_sight(plan, s, event, crm, taken, now)
    for d in plan.decisions:
        if d.kind in ("import", "update_activity") and d.event is not None:
            for message in cut_notes(d.event):
                plan.note("cut", event_label(d.event), message)
    for item in crm.unlinked:
        # unlinked: CRM-born items not pushed yet, and calendar-born ones restored from the
        # trash or left behind by a calendar switch (they are CRM activities now)
        if item.id in taken or item.deleted or item.owner_id != s.owner_id or item.read_only:
            continue
        if (item.origin == "crm" and not s.pushes(item.type_key)) or item.fields.ends_before(now):
            continue
        plan.add("push_create", activity_id=item.id)
    _guard(plan, pulled, len(live) if live_count is None else live_count, gone, policy)
    return plan


def _guard(plan: Plan, pulled: Pulled, live: int, gone: set[EventKey], policy: DeletionPolicy) -> None:
    deletions = plan.deletions
    if not deletions or policy == "confirmed":
        return
    limit = max(MASS_DELETE_MIN, int(live * MASS_DELETE_SHARE))
    # An emptied calendar is weighed by what its emptiness would delete: pairs whose event is
    # gone from the listing and that would really be deleted (a pair deleted on both sides just
    # goes). Deletions the CRM asked for (an activity deleted or given away) are not evidence of
    # an emptied calendar, even when the listing is empty because their events lie before the window.
    lost = sum(1 for d in deletions if d.key in gone)
    emptied = pulled.full and not pulled.events and lost >= 2
    if len(deletions) > limit:
        plan.guard = f"this sync would delete {len(deletions)} of {live} synced items (more than {limit}): confirm or cancel"
    elif emptied:
        plan.guard = f"the calendar suddenly lists no events while {lost} synced items were in it: confirm the deletions or cancel"
    if policy == "ask":
        return
    # cancelled (whether or not this run meets the guard again: the emptied-calendar guard is
    # checked on complete listings only, and the run after the user's answer may be incremental):
    # keep everything; what the calendar lost is written back from the CRM, and
    # activities deleted in the CRM come back from the trash.
    kept: list[Decision] = []
    series: set[EventKey] = set()
    for d in plan.decisions:
        if not d.counts_as_deletion:
            kept.append(d)
        elif d.kind == "trash_activity" and d.key is not None and d.key.recurrence_id:
            # an occurrence: the series goes back as one object (its stored original) and the
            # occurrence keeps its link, instead of one single event per occurrence
            whole = EventKey(d.key.calendar_id, d.key.event_id)
            if whole not in series:
                series.add(whole)
                kept.append(Decision("restore_series", key=whole))
        elif d.kind == "trash_activity":
            kept.append(Decision("drop_link", key=d.key))
            kept.append(Decision("push_create", activity_id=d.activity_id, reason="recreate"))
        elif d.kind == "push_delete" and d.reason in ("", "activity was deleted") and d.activity_id is not None:
            kept.append(Decision("restore_activity", key=d.key, activity_id=d.activity_id))
        else:
            kept.append(d)
    plan.decisions = kept
    plan.guard = None
    plan.note("skip", "deletions", "the user cancelled the pending deletions: items were kept")
