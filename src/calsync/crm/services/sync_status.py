"""Each activity's sync status, by the one rule the API, the pages and the engine share.

An activity of a user with an enabled SyncAccount is `synced` when a linked SyncLink has
`synced_version == activity.version`, `pending` when there is no link yet or the versions differ,
`error` when the link's status is "error" (reason = link.error), or when it has no link and the
account's last finished run failed to write it (reason from that run's log: a create the calendar
refused, retried on every run), `not_synced` when it is CRM-born
and its type is not in the account's push_types (None = all types), or when it has no link and is
already over (past items are never pushed); `no_account` when the owner
has no account; `paused` when the owner stopped it. While the account cannot sync (`crm.services.sync_health.blocked`:
waiting for a reconnect or a confirmation, or failing run after run) what would be `synced`,
`pending` or `error` is `paused` or `problem` instead, with the reason: "synced" would be a
promise that later edits travel, and they do not. Computed in batch: one query for accounts, one
for links, per page (and one per account that keeps failing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqlalchemy import func

from calsync.crm.schemas import SyncInfo
from calsync.crm.services.sync_health import Blocked, blocked, failed_runs_in_a_row
from calsync.store.tables import Activity, SyncAccount, SyncLink, SyncRun

STOPPED = "sync is stopped: its owner can start it again in Settings › Calendar sync"
_LINK_PRIORITY = {"error": 0, "linked": 1}


def status_for(
    activity: Activity, type_key: str, account: SyncAccount | None, link: SyncLink | None,
    failure: str | None = None, stopped: Blocked | None = None,
) -> SyncInfo:
    """The rule itself, for one activity, its owner's account and its (best) link; `stopped`
    says why the account cannot sync now (`sync_health.blocked`), if it cannot."""
    info = _status(activity, type_key, account, link, failure)
    if stopped is not None and info.status in ("synced", "pending", "error"):
        return SyncInfo(status=stopped.badge, reason=stopped.reason, account=info.account, provider=info.provider)
    return info


def _status(
    activity: Activity, type_key: str, account: SyncAccount | None, link: SyncLink | None, failure: str | None,
) -> SyncInfo:
    if account is None:
        return SyncInfo(status="no_account")
    where = dict(account=account.account_name, provider=account.provider)
    if not account.enabled:
        # connected but stopped by its owner: nothing travels until it is started again
        return SyncInfo(status="paused", reason=STOPPED, **where)
    if activity.origin == "crm" and account.push_types is not None and type_key not in account.push_types:
        return SyncInfo(status="not_synced", reason=f"activities of type '{type_key}' are not sent to the calendar", **where)
    if link is not None and link.status == "error":
        return SyncInfo(status="error", reason=link.error or "the last sync of this activity failed", **where)
    if link is not None and link.status == "linked" and link.synced_version == activity.version:
        return SyncInfo(status="synced", **where)
    if link is None and failure:
        return SyncInfo(status="error", reason=failure, **where)
    ended = _latest_end(activity)
    if link is None and ended is not None and ended <= dt.datetime.now(dt.timezone.utc):
        # the engine never sends an item that is already over
        if account.created_at is not None and ended <= account.created_at:
            return SyncInfo(status="not_synced", reason="ended before calendar sync started", **where)
        return SyncInfo(status="not_synced", reason="was over before it was synced: past items are not sent to the calendar", **where)
    return SyncInfo(status="pending", **where)


def _latest_end(activity: Activity) -> dt.datetime | None:
    """When the item is over everywhere (all-day: its end date in UTC-12), from the columns
    every read path loads; the engine's `ends_before` uses the same instant."""
    if activity.all_day:
        if activity.end_date is None:
            return None
        return dt.datetime.combine(activity.end_date, dt.time(), dt.timezone.utc) + dt.timedelta(hours=12)
    return activity.end_at


def sync_infos(
    session: Session, activities: Iterable[Activity], type_keys: Mapping[int, str]
) -> dict[int, SyncInfo]:
    """SyncInfo per activity id, with two queries whatever the number of activities."""
    items = list(activities)
    if not items:
        return {}
    owner_of = {a.id: a.owner_id for a in items}
    owner_ids = set(owner_of.values())
    accounts = {
        account.user_id: account
        for account in session.scalars(select(SyncAccount).where(SyncAccount.user_id.in_(owner_ids)))
    }
    links: dict[int, SyncLink] = {}
    with_account = [a.id for a in items if a.owner_id in accounts]
    if with_account:
        query = select(SyncLink).where(SyncLink.activity_id.in_(with_account), SyncLink.status != "tombstone")
        for link in session.scalars(query):
            assert link.activity_id is not None
            current = links.get(link.activity_id)
            # Prefer a link of the owner's current account; among those an error shows first.
            if link.account_id != accounts[owner_of[link.activity_id]].id:
                continue
            if current is None or _LINK_PRIORITY.get(link.status, 2) < _LINK_PRIORITY.get(current.status, 2):
                links[link.activity_id] = link
    failures = _write_failures(session, [account.id for account in accounts.values()]) if with_account else {}
    runs = failed_runs_in_a_row(session, accounts.values())
    stopped = {account.user_id: blocked(account, runs.get(account.id, 0)) for account in accounts.values()}
    no_account = SyncInfo(status="no_account")  # the common case, built once per page
    return {
        a.id: status_for(a, type_keys.get(a.type_id, ""), accounts[a.owner_id], links.get(a.id), failures.get(a.id),
                         stopped[a.owner_id])
        if a.owner_id in accounts else no_account
        for a in items
    }



def _write_failures(session: Session, account_ids: list[int]) -> dict[int, str]:
    """Activity id -> reason, from the error entries of each account's last finished run (one
    query). Writes that failed before an activity had a link leave their reason only there."""
    if not account_ids:
        return {}
    last = (
        select(func.max(SyncRun.id))
        .where(SyncRun.account_id.in_(account_ids), SyncRun.status != "running")
        .group_by(SyncRun.account_id)
    )
    found: dict[int, str] = {}
    for run in session.scalars(select(SyncRun).where(SyncRun.id.in_(last))):
        for entry in run.entries or []:
            if entry.get("kind") == "error" and isinstance(entry.get("activity_id"), int):
                found[entry["activity_id"]] = str(entry.get("message") or "the last sync of this activity failed")
    return found
