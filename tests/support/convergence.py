"""A convergence workload over many accounts and the model that checks it.

Users of one company connect to the Google emulator, the Graph emulator or a real Radicale; a
seeded `random.Random` makes changes on both sides (CRM creates, edits and deletions through the
CRM services; calendar creates, edits and deletions through each calendar's own HTTP API) and
records what the documented rules then demand (docs/sync-engine.md, "Decisions"): one side
changed → that change on both; both sides edited → the newer edit (the activity's `updated_at`
against the time the calendar reports for its edit); a deletion on either side beats an edit.

Every title is unique, so the checker finds an item on each side by its title alone, without
reading the engine's tables: after the syncs every expected item must be there exactly once on
each side with the expected title (zero lost edits), nothing else may be (no resurrection, no
stale copy) and no title twice (zero duplicates); the link table must pair each live activity
with exactly one listed event.

Changes are applied in two phases: a conflict's second edit, and every deletion that meets an
edit, happen in the second phase, so the expected result is the same whether or not a sync of
the account ran between the phases."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from sqlalchemy import select

from calsync.crm.schemas import ActivityCreate, ActivityUpdate
from calsync.crm.services import accounts as crm_accounts
from calsync.crm.services import activities
from calsync.store.db import session_scope
from calsync.store.tables import Activity, SyncAccount, SyncLink, SyncRun, User
from calsync.sync import accounts as sync_accounts
from calsync.web.context import AppContext
from tests.support.convergence_sides import CalendarSide, Listed

UTC = dt.timezone.utc
TIE = dt.timedelta(milliseconds=5)  # closer than this, either edit may count as the newer one


@dataclass
class Item:
    """One item of an account as both sides agreed at the last convergence."""

    key: int
    subject: str
    activity_id: int | None = None
    event_id: str | None = None
    anchor: bool = False  # never deleted: keeps the calendar from ever listing empty (a guard asks then)


@dataclass
class Account:
    index: int
    kind: str
    email: str
    user_id: int
    account_id: int
    side: CalendarSide
    items: dict[int, Item] = field(default_factory=dict)


@dataclass
class Op:
    side: str  # "crm" or "cal"
    action: str  # "create", "edit" or "delete"
    key: int
    subject: str = ""
    start: dt.datetime | None = None
    done_at: dt.datetime | None = None  # edits: the modification time the side reports
    missing_ok: bool = False  # a deletion the other side asked for first: a sync may have done it


@dataclass
class Plan:
    """One round for one account: what each phase does and what each item must end as."""

    account: Account
    phase_a: list[Op] = field(default_factory=list)
    phase_b: list[Op] = field(default_factory=list)
    created: dict[int, str] = field(default_factory=dict)
    edited: dict[int, str] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    both_edited: dict[int, tuple[Op, Op]] = field(default_factory=dict)  # key -> (crm op, calendar op)
    anchors: set[int] = field(default_factory=set)

    def expected(self) -> dict[int, frozenset[str]]:
        """Every item that must exist after the round, with the titles it may have."""
        out: dict[int, frozenset[str]] = {}
        for key, item in self.account.items.items():
            if key in self.deleted:
                continue
            if key in self.both_edited:
                crm, cal = self.both_edited[key]
                assert crm.done_at is not None and cal.done_at is not None, "the round was not applied"
                if abs(cal.done_at - crm.done_at) < TIE:
                    out[key] = frozenset({crm.subject, cal.subject})
                else:
                    out[key] = frozenset({cal.subject if cal.done_at > crm.done_at else crm.subject})
            else:
                out[key] = frozenset({self.edited.get(key, item.subject)})
        for key, subject in self.created.items():
            out[key] = frozenset({subject})
        return out


@dataclass
class Mix:
    """How likely each change is per existing item and round, and how many new items a round adds."""

    crm_edit: float = 0.10
    cal_edit: float = 0.10
    crm_delete: float = 0.04
    cal_delete: float = 0.04
    both_edit: float = 0.08
    edit_vs_delete: float = 0.05
    both_delete: float = 0.02
    new_per_side: tuple[int, int] = (0, 2)


class Workload:
    """Plans rounds of random changes (from one seed) and applies them."""

    def __init__(self, context: AppContext, accounts: list[Account], seed: int, *, mix: Mix | None = None,
                 threads: int = 8) -> None:
        self.context = context
        self.accounts = accounts
        self.rng = random.Random(seed)
        self.mix = mix or Mix()
        self.threads = threads
        self._keys = itertools.count()
        self._names = itertools.count()
        self.counts: Counter[str] = Counter()

    def _name(self, account: Account, what: str) -> str:
        return f"{what} {account.index}-{next(self._names)}"

    def _start(self) -> dt.datetime:
        today = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return today + dt.timedelta(days=self.rng.randint(1, 30), hours=self.rng.randint(0, 23))

    def _create(self, plan: Plan, side: str, anchor: bool = False) -> None:
        key = next(self._keys)
        subject = self._name(plan.account, "Call" if side == "crm" else "Meeting")
        plan.phase_a.append(Op(side, "create", key, subject, self._start()))
        plan.created[key] = subject
        if anchor:
            plan.anchors.add(key)
        self.counts[f"{side}_create"] += 1

    def first_round(self) -> list[Plan]:
        """Before the first sync: an anchor activity per account and a few items on each side."""
        plans = []
        for account in self.accounts:
            plan = Plan(account)
            self._create(plan, "crm", anchor=True)
            for side in ("crm", "cal"):
                for _ in range(self.rng.randint(0, 2)):
                    self._create(plan, side)
            plans.append(plan)
        return plans

    def change_round(self) -> list[Plan]:
        """Random edits and deletions of existing items on both sides, and new items on both sides."""
        m = self.mix
        choices = [("crm_edit", m.crm_edit), ("cal_edit", m.cal_edit), ("crm_delete", m.crm_delete),
                   ("cal_delete", m.cal_delete), ("both_edit", m.both_edit), ("edit_vs_delete", m.edit_vs_delete),
                   ("both_delete", m.both_delete)]
        plans = []
        for account in self.accounts:
            plan = Plan(account)
            for key, item in sorted(account.items.items()):
                roll, what = self.rng.random(), "none"
                for name, p in choices:
                    if roll < p:
                        what = name
                        break
                    roll -= p
                if item.anchor and what.endswith("delete"):
                    what = "none"
                self._change(plan, key, what)
            lo, hi = m.new_per_side
            for side in ("crm", "cal"):
                for _ in range(self.rng.randint(lo, hi)):
                    self._create(plan, side)
            plans.append(plan)
        return plans

    def _change(self, plan: Plan, key: int, what: str) -> None:
        if what == "none":
            return
        self.counts[what] += 1
        account = plan.account
        if what in ("crm_edit", "cal_edit"):
            side = what[:3]
            subject = self._name(account, f"Edited in {side}")
            plan.phase_a.append(Op(side, "edit", key, subject))
            plan.edited[key] = subject
        elif what in ("crm_delete", "cal_delete"):
            plan.phase_a.append(Op(what[:3], "delete", key))
            plan.deleted.add(key)
        elif what == "both_edit":
            crm = Op("crm", "edit", key, self._name(account, "Edited in crm"))
            cal = Op("cal", "edit", key, self._name(account, "Edited in cal"))
            first, second = (crm, cal) if self.rng.random() < 0.5 else (cal, crm)
            plan.phase_a.append(first)
            plan.phase_b.append(second)
            plan.both_edited[key] = (crm, cal)
        elif what == "edit_vs_delete":
            editor = self.rng.choice(["crm", "cal"])
            deleter = "cal" if editor == "crm" else "crm"
            plan.phase_a.append(Op(editor, "edit", key, self._name(account, f"Edited in {editor}")))
            plan.phase_b.append(Op(deleter, "delete", key))
            plan.deleted.add(key)
        elif what == "both_delete":
            plan.phase_a.append(Op("crm", "delete", key))
            plan.phase_b.append(Op("cal", "delete", key, missing_ok=True))
            plan.deleted.add(key)

    # ------------------------------------------------------------------ applying
    def apply(self, plans: list[Plan]) -> None:
        """Phase A of every account, then phase B of every account (accounts in parallel)."""
        with ThreadPoolExecutor(self.threads) as pool:
            for phase in ("phase_a", "phase_b"):
                list(pool.map(lambda plan: [self._do(plan, op) for op in getattr(plan, phase)], plans))

    def _do(self, plan: Plan, op: Op) -> None:
        account = plan.account
        item = account.items.get(op.key)
        if op.side == "crm":
            with session_scope(self.context.sessions) as s:
                user = s.get(User, account.user_id)
                if op.action == "create":
                    assert op.start is not None
                    data = ActivityCreate(subject=op.subject, type="call", start=op.start.isoformat(),
                                          end=(op.start + dt.timedelta(hours=1)).isoformat(), timezone="UTC")
                    created = activities.create_activity(s, user, data)  # type: ignore[arg-type]
                    account.items.setdefault(op.key, Item(op.key, op.subject)).activity_id = created.id
                elif op.action == "edit":
                    assert item is not None and item.activity_id is not None
                    edited = activities.update_activity(s, user, item.activity_id,  # type: ignore[arg-type]
                                                        ActivityUpdate(subject=op.subject))
                    op.done_at = edited.updated_at
                else:
                    assert item is not None and item.activity_id is not None
                    activities.delete_activity(s, user, item.activity_id)  # type: ignore[arg-type]
            return
        side = account.side
        if op.action == "create":
            assert op.start is not None
            event_id = side.create(op.subject, op.start, op.start + dt.timedelta(minutes=30))
            account.items.setdefault(op.key, Item(op.key, op.subject)).event_id = event_id
        elif op.action == "edit":
            assert item is not None and item.event_id is not None
            op.done_at = side.edit(item.event_id, op.subject)
        else:
            assert item is not None and item.event_id is not None
            side.delete(item.event_id, missing_ok=op.missing_ok)

    # ------------------------------------------------------------------ after convergence
    def settle_model(self, plans: list[Plan], seen: dict[int, "Seen"]) -> None:
        """Takes the converged state as the next round's start: each item's title, activity and event."""
        for plan in plans:
            account = plan.account
            expected = plan.expected()
            view = seen[account.index]
            by_subject = {a_subject: a_id for a_id, a_subject in view.activities}
            by_summary = {e.summary: e.event_id for e in view.events}
            items: dict[int, Item] = {}
            for key, options in expected.items():
                subject = next(o for o in options if o in by_subject)
                old = account.items.get(key)
                items[key] = Item(key, subject, by_subject[subject], by_summary[subject],
                                  anchor=bool(old and old.anchor) or key in plan.anchors)
            account.items = items


# ---------------------------------------------------------------------- the checker
@dataclass
class Seen:
    """One account as its two sides and the link table show it."""

    activities: list[tuple[int, str]]  # (activity id, subject) of the user's live activities
    events: list[Listed]
    links: list[tuple[int | None, str, str]]  # (activity id, event id, status)


def observe(context: AppContext, accounts: list[Account], threads: int = 8) -> dict[int, Seen]:
    users = {a.user_id: a for a in accounts}
    ids = {a.account_id: a for a in accounts}
    with session_scope(context.sessions) as s:
        rows = s.execute(select(Activity.owner_id, Activity.id, Activity.subject).where(
            Activity.owner_id.in_(list(users)), Activity.deleted.is_(False))).all()
        link_rows = s.execute(select(SyncLink.account_id, SyncLink.activity_id, SyncLink.event_id, SyncLink.status)
                              .where(SyncLink.account_id.in_(list(ids)))).all()
    with ThreadPoolExecutor(threads) as pool:
        listings = dict(zip([a.index for a in accounts], pool.map(lambda a: a.side.listing(), accounts)))
    seen = {a.index: Seen([], listings[a.index], []) for a in accounts}
    for owner_id, activity_id, subject in rows:
        seen[users[owner_id].index].activities.append((activity_id, subject))
    for account_id, activity_id, event_id, status in link_rows:
        seen[ids[account_id].index].links.append((activity_id, event_id, status))
    return seen


def problems_of(expected: dict[int, frozenset[str]], seen: Seen) -> list[str]:
    """What differs from the model: duplicates, lost or stale edits, resurrected items, bad links."""
    out: list[str] = []
    crm = Counter(subject for _, subject in seen.activities)
    cal = Counter(e.summary for e in seen.events)
    for name, side in (("activities", crm), ("events", cal)):
        out += [f"duplicate: {n} {name} titled {t!r}" for t, n in side.items() if n > 1]
    known: set[str] = set()
    for key, options in sorted(expected.items()):
        known |= options
        in_crm, in_cal = options & set(crm), options & set(cal)
        if len(in_crm) != 1 or in_crm != in_cal:
            out.append(f"item {key}: expected one of {sorted(options)}; CRM has {sorted(in_crm)}, "
                       f"calendar has {sorted(in_cal)}")
    out += [f"activity {t!r} is not in the model (stale edit or resurrected)" for t in crm if t not in known]
    out += [f"event {t!r} is not in the model (stale edit or resurrected)" for t in cal if t not in known]
    live = {a_id for a_id, _ in seen.activities}
    listed = Counter(e.event_id for e in seen.events)
    linked = [(a, e) for a, e, status in seen.links if status == "linked"]
    per_activity = Counter(a for a, _ in linked)
    per_event = Counter(e for _, e in linked)
    out += [f"activity {a} has {per_activity[a]} links" for a in sorted(live) if per_activity[a] != 1]
    out += [f"event {e} has {per_event[e]} links" for e in sorted(listed) if per_event[e] != 1]
    out += [f"link to a gone activity {a} / event {e}" for a, e in linked if a not in live or e not in listed]
    out += [f"link {a}/{e} in state {status}" for a, e, status in seen.links if status != "linked"]
    return out


@dataclass
class Settled:
    seconds: float
    polls: int


def wait_until_converged(context: AppContext, plans: list[Plan], *, deadline: float,
                         between: Callable[[], None] = lambda: None) -> tuple[Settled, dict[int, Seen]]:
    """Checks the accounts against the model until all agree or `deadline` (seconds) passes; only
    the accounts that did not agree yet are looked at again, and at the end all of them once more."""
    start = time.monotonic()
    by_index = {p.account.index: p for p in plans}
    pending = [p.account for p in plans]
    polls = 0
    last: dict[int, list[str]] = {}
    while True:
        polls += 1
        seen = observe(context, pending)
        last = {a.index: problems_of(by_index[a.index].expected(), seen[a.index]) for a in pending}
        pending = [a for a in pending if last[a.index]]
        if not pending:
            break
        if time.monotonic() - start > deadline:
            raise AssertionError(describe(last, pending, by_index, context))
        between()
    everyone = [p.account for p in plans]
    seen = observe(context, everyone)
    final = {a.index: problems_of(by_index[a.index].expected(), seen[a.index]) for a in everyone}
    bad = [a for a in everyone if final[a.index]]
    if bad:
        raise AssertionError("converged, then moved again: " + describe(final, bad, by_index, context))
    return Settled(time.monotonic() - start, polls), seen


def describe(problems: dict[int, list[str]], accounts: Iterable[Account], plans: dict[int, Plan],
             context: AppContext) -> str:
    accounts = list(accounts)
    lines = [f"{len(accounts)} accounts differ from the model"]
    for a in accounts[:15]:
        lines.append(f"  account {a.index} ({a.kind}, {a.email}, account id {a.account_id}):")
        lines += [f"    {p}" for p in problems[a.index][:8]]
        plan = plans[a.index]
        lines.append(f"    items before the round: {[(i.key, i.subject, i.activity_id) for i in a.items.values()]}")
        lines.append(f"    phase A: {[(o.side, o.action, o.key, o.subject) for o in plan.phase_a]}")
        lines.append(f"    phase B: {[(o.side, o.action, o.key, o.subject) for o in plan.phase_b]}")
        with session_scope(context.sessions) as s:
            runs = s.scalars(select(SyncRun).where(SyncRun.account_id == a.account_id)
                             .order_by(SyncRun.id.desc()).limit(2)).all()
            for run in runs:
                lines.append(f"    run {run.id} {run.trigger} {run.status}: pulled {run.pulled} pushed {run.pushed} "
                             f"deleted {run.deleted} conflicts {run.conflicts} {run.error or ''} {run.entries}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the fleet
def add_users(context: AppContext, emails: list[str]) -> dict[str, int]:
    """Users of one company (password hashing skipped: they never sign in)."""
    ids: dict[str, int] = {}
    with mock.patch("calsync.crm.services.accounts.hash_password", lambda password: "scrypt$00$00"):
        with session_scope(context.sessions) as s:
            for email in emails:
                user, _ = crm_accounts.add_user(s, context.box, email=email, password="password-123",
                                                company_name="Acme")
                ids[email] = user.id
    return ids


def connect(context: AppContext, user_id: int, provider: str, params: dict[str, Any]) -> tuple[int, str]:
    """Connects the user as the settings page does; returns the account id and its calendar id."""
    with session_scope(context.sessions) as s:
        account: SyncAccount = sync_accounts.connect(s, context.box, s.get(User, user_id), provider, params)  # type: ignore[arg-type]
        assert account.calendar_id, f"{provider} connect left no calendar chosen"
        return account.id, account.calendar_id
