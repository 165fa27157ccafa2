"""The pure decision, property-tested without I/O: deletions only from complete evidence, the
guards, and the three-way rule."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.sync.mapping import SyncedFields, content_hash, to_event
from calsync.sync.model import EventKey
from calsync.sync.provider import Window
from calsync.sync.reconcile import AccountSettings, CrmItem, CrmState, LinkState, Pulled, decide, unconfirmed

UTC = dt.timezone.utc
NOW = dt.datetime(2030, 1, 1, 12, tzinfo=UTC)
WINDOW = Window(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))
SETTINGS = AccountSettings(owner_id=1, calendar_id="c")


def pair(n: int) -> tuple[LinkState, CrmItem, object]:
    start = NOW + dt.timedelta(days=n + 1)
    fields = SyncedFields(subject=f"Item {n}", all_day=False, start_at=start, end_at=start + dt.timedelta(hours=1), timezone="UTC")
    item = CrmItem(id=n, uuid=f"u{n}", owner_id=1, version=3, updated_at=NOW, deleted=False, type_key="call",
                   origin="crm", read_only=False, fields=fields)
    event = to_event(fields, calendar_id="c", activity_uuid=f"u{n}", event_id=f"e{n}")
    event.etag = f"etag{n}"
    link = LinkState(id=n, activity_id=n, key=EventKey("c", f"e{n}"), origin="crm", etag=f"etag{n}",
                     crm_hash=content_hash(fields), event_hash=content_hash(fields), synced_version=3,
                     event_end=start + dt.timedelta(hours=1))
    return link, item, event


def state(n: int) -> tuple[list[LinkState], CrmState, list]:  # type: ignore[type-arg]
    pairs = [pair(i) for i in range(n)]
    links = [p[0] for p in pairs]
    crm = CrmState(linked={p[1].id: p[1] for p in pairs}, unlinked=[], by_uuid={}, origins={})
    return links, crm, [p[2] for p in pairs]


@given(n=st.integers(1, 60), data=st.data())
@settings(max_examples=150, deadline=None)
def test_missing_events_are_deletions_only_in_a_complete_listing(n: int, data: st.DataObject) -> None:
    links, crm, events = state(n)
    kept = data.draw(st.lists(st.sampled_from(range(n)), unique=True))
    listed = [events[i] for i in kept]
    partial = decide(links, Pulled(listed, [], False, set(), WINDOW), crm, SETTINGS, NOW)
    assert partial.deletions == [] and partial.guard is None
    complete = decide(links, Pulled(listed, [], True, set(), WINDOW), crm, SETTINGS, NOW)
    missing = n - len(kept)
    limit = max(10, int(n * 0.2))
    emptied = not kept and missing >= 2
    assert (complete.guard is not None) == (missing > limit or emptied)
    assert len(complete.deletions) == missing
    assert all(d.kind == "trash_activity" for d in complete.deletions)


@given(n=st.integers(1, 30), data=st.data())
@settings(max_examples=100, deadline=None)
def test_a_quiet_listing_decides_no_writes(n: int, data: st.DataObject) -> None:
    links, crm, events = state(n)
    full = data.draw(st.booleans())
    plan = decide(links, Pulled(events, [], full, set(), WINDOW), crm, SETTINGS, NOW)
    assert [d for d in plan.decisions if d.kind != "record"] == [] and plan.log == []


def test_confirmed_policy_lets_a_mass_deletion_through_and_cancelled_keeps_everything() -> None:
    links, crm, events = state(20)
    pulled = Pulled(events[:5], [], True, set(), WINDOW)
    assert decide(links, pulled, crm, SETTINGS, NOW).guard is not None
    confirmed = decide(links, pulled, crm, SETTINGS, NOW, "confirmed")
    assert confirmed.guard is None and len(confirmed.deletions) == 15
    cancelled = decide(links, pulled, crm, SETTINGS, NOW, "cancelled")
    assert cancelled.deletions == [] and sum(d.kind == "push_create" for d in cancelled.decisions) == 15


def test_tombstones_are_deletions_even_in_an_incremental_listing() -> None:
    links, crm, events = state(3)
    plan = decide(links, Pulled([], [EventKey("c", "e1")], False, set(), WINDOW), crm, SETTINGS, NOW)
    assert [(d.kind, d.activity_id) for d in plan.deletions] == [("trash_activity", 1)]


def test_events_beyond_the_window_are_not_deleted_by_absence() -> None:
    links, crm, events = state(1)
    far = links[0].__class__(**{**vars(links[0]), "event_end": NOW + dt.timedelta(days=400)})
    plan = decide([far], Pulled([], [], True, set(), WINDOW), crm, SETTINGS, NOW)
    assert plan.deletions == []


def test_an_unreadable_object_in_a_complete_listing_leaves_its_pair_alone() -> None:
    links, crm, events = state(3)
    pulled = Pulled(events[:2], [], True, set(), WINDOW, skipped={"e2": "the event ends before it starts"})
    plan = decide(links, pulled, crm, SETTINGS, NOW)
    assert [d for d in plan.decisions if d.kind != "record"] == []
    assert [(e["kind"], e["item"]) for e in plan.log] == [("skip", "activity 2")]
    assert "ends before it starts" in plan.log[0]["message"]


def test_absence_from_the_windowed_listing_alone_is_no_deletion_when_the_membership_listing_names_it() -> None:
    links, crm, events = state(3)
    named = Pulled(events[:1], [], True, set(), WINDOW, members={"e0", "e1"})
    assert unconfirmed(links, named) == {"e1"}  # to be read before anything is decided
    plan = decide(links, named, crm, SETTINGS, NOW)
    assert [(d.kind, d.activity_id) for d in plan.deletions] == [("trash_activity", 2)]  # e2: in no listing
