"""Whether a user's calendar account can sync, in the terms every page and the API show.

One rule decides both the banner every page shows its owner and the "paused" / "problem" badge
its activities carry instead of "synced": an account that waits for a reconnect (`auth_error`),
for the user's word on mass deletions (`needs_confirmation`), or that failed
`FAILED_RUNS_FOR_PROBLEM` runs in a row (`provider_error`: one timeout is not worth a banner, three
are). An account waiting for its calendar to be chosen (`choose_calendar`) pauses the badges too,
without a banner (the settings page asks for the choice); so does a stopped one
(`sync_status`). An import type that was deactivated is shown on the banner only: the account still syncs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.crm.errors import Invalid
from calsync.crm.services.activity_types import type_by_key, type_for_import
from calsync.store.tables import SyncAccount, SyncRun

# Runs in a row that must end in `provider_error` before the account counts as not syncing.
FAILED_RUNS_FOR_PROBLEM = 3

ProblemKind = Literal["auth_error", "needs_confirmation", "provider_error", "import_type"]


@dataclass(frozen=True)
class Blocked:
    """Why an account's activities do not sync now: the badge they get and its reason."""

    badge: Literal["paused", "problem"]
    reason: str


@dataclass(frozen=True)
class Problem:
    """One thing the owner of an account must fix, for the banner and the API. `fix` is the
    page (and anchor) where it is fixed; `detail` the server's or engine's words."""

    kind: ProblemKind
    message: str
    fix: str
    detail: str | None = None
    failed_runs: int = 0
    pending_deletions: int | None = None
    chosen_type: str | None = None
    used_type: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind, "message": self.message, "fix": self.fix, "detail": self.detail,
            "failed_runs": self.failed_runs, "pending_deletions": self.pending_deletions,
        }


SETTINGS = "/settings/calendar-sync"


def failed_runs_in_a_row(session: Session, accounts: Iterable[SyncAccount]) -> dict[int, int]:
    """Account id -> how many of its last finished runs (up to the threshold) ended in
    `provider_error`, counted only for accounts in that state (the rare case: a query each)."""
    counts: dict[int, int] = {}
    for account in accounts:
        if account.state != "provider_error":
            continue
        statuses = session.scalars(
            select(SyncRun.status).where(SyncRun.account_id == account.id, SyncRun.status != "running")
            .order_by(SyncRun.id.desc()).limit(FAILED_RUNS_FOR_PROBLEM)
        )
        streak = 0
        for status in statuses:
            if status != "provider_error":
                break
            streak += 1
        counts[account.id] = streak
    return counts


def blocked(account: SyncAccount, failed_runs: int) -> Blocked | None:
    """The badge an enabled account's activities get while it cannot sync (None: it syncs)."""
    if account.state == "auth_error":
        return Blocked("problem", "the calendar refused the sign-in: reconnect the account in Settings › Calendar sync")
    if account.state == "needs_confirmation":
        count = (account.pending_deletions or {}).get("count")
        many = f"{count} " if count else "many "
        return Blocked("paused", f"sync waits until the owner confirms or cancels deleting {many}activities")
    if account.state == "choose_calendar":
        return Blocked("paused", "waiting for its owner to choose a calendar in Settings › Calendar sync")
    if account.state == "provider_error" and failed_runs >= FAILED_RUNS_FOR_PROBLEM:
        return Blocked("problem", f"the last {failed_runs} syncs failed: {account.last_error or 'the calendar server did not answer'}")
    return None


def problems(session: Session, account: SyncAccount | None, *, is_admin: bool = False) -> list[Problem]:
    """What the account's owner must fix, most urgent first (empty when all is well)."""
    if account is None or not account.enabled:
        return []
    found: list[Problem] = []
    runs = failed_runs_in_a_row(session, [account]).get(account.id, 0)
    stop = blocked(account, runs)
    if stop is not None and account.state == "auth_error":
        found.append(Problem("auth_error", "Calendar sync has stopped: your calendar refused the sign-in. Reconnect your account.",
                             f"{SETTINGS}#status-panel", detail=account.last_error))
    elif stop is not None and account.state == "needs_confirmation":
        count = (account.pending_deletions or {}).get("count")
        found.append(Problem("needs_confirmation", "Calendar sync is paused: the last sync would delete many activities "
                             "and waits for you to confirm or cancel.", f"{SETTINGS}#confirm-panel",
                             detail=(account.pending_deletions or {}).get("message"), pending_deletions=count))
    elif stop is not None:
        found.append(Problem("provider_error", f"Calendar sync has failed {runs} times in a row.", f"{SETTINGS}#log-panel",
                             detail=account.last_error, failed_runs=runs))
    type_problem = _import_type_problem(session, account, is_admin)
    if type_problem is not None:
        found.append(type_problem)
    return found


def _import_type_problem(session: Session, account: SyncAccount, is_admin: bool) -> Problem | None:
    """The type chosen for imported events is deactivated: events come in as another type, or
    (no type active) not at all. The fix is another choice, or an admin reactivating it."""
    used = type_for_import(session, account.company_id, account.import_type_key)
    if used is not None and used.key == account.import_type_key:
        return None
    try:
        chosen_name = type_by_key(session, account.company_id, account.import_type_key, active_only=False).name
    except Invalid:
        chosen_name = account.import_type_key
    fix = "/admin/activity-types" if is_admin and used is None else f"{SETTINGS}#f-import-type"
    if used is None:
        message = (f"The activity type “{chosen_name}” for events from your calendar is deactivated and no other type is "
                   "active: new events cannot be imported until an admin activates a type.")
    else:
        message = (f"The activity type “{chosen_name}” for events from your calendar is deactivated: new events come in "
                   f"as “{used.name}”. Choose another type.")
    return Problem("import_type", message, fix, chosen_type=chosen_name, used_type=used.name if used else None)
