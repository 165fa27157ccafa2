"""A user with a connected in-memory calendar, and helpers to act on both sides like a person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.crm.schemas import ActivityCreate, ActivityUpdate
from calsync.crm.services import accounts as crm_accounts
from calsync.crm.services import activities
from calsync.providers.memory import MemoryCalendarServer, MemoryProviderFactory
from calsync.store.db import session_scope
from calsync.store.tables import Activity, ActivityType, SyncAccount, SyncLink, SyncRun, User
from calsync.sync import accounts as sync_accounts
from calsync.sync.engine import SyncEngine
from calsync.sync.model import Event
from calsync.sync.summary import RunSummary
from calsync.web.context import AppContext

UTC = dt.timezone.utc


def soon(hours: float = 1.0) -> dt.datetime:
    return (dt.datetime.now(UTC) + dt.timedelta(hours=hours)).replace(microsecond=0)


class Harness:
    """One company; users connect to accounts of one MemoryCalendarServer."""

    def __init__(self, context: AppContext, server: MemoryCalendarServer | None = None) -> None:
        self.context = context
        self.server = server or MemoryCalendarServer()
        self.factory = MemoryProviderFactory(self.server)
        self.engine = SyncEngine(context.sessions, lambda account: self.factory.open({"account": account.account_name}))
        self.users: dict[str, int] = {}

    def session(self) -> Any:
        return session_scope(self.context.sessions)

    def user(self, email: str, *, admin: bool = False) -> int:
        with self.session() as s:
            user, _ = crm_accounts.add_user(s, self.context.box, email=email, password="password-123", company_name="Acme", is_admin=admin)
            self.users[email] = user.id
            return user.id

    def connect(self, email: str, account: str | None = None, **settings: Any) -> int:
        from calsync.sync import registry

        registry.register(self.factory)
        with self.session() as s:
            user = s.get(User, self.users[email])
            acct = sync_accounts.connect(s, self.context.box, user, "memory", {"account": account or email})
            if settings:
                sync_accounts.update_settings(s, self.context.box, user, settings)
            return acct.id

    def settings(self, email: str, **settings: Any) -> None:
        with self.session() as s:
            sync_accounts.update_settings(s, self.context.box, s.get(User, self.users[email]), settings)

    def account(self, email: str) -> SyncAccount:
        with self.session() as s:
            acct = s.scalar(select(SyncAccount).where(SyncAccount.user_id == self.users[email]))
            assert acct is not None
            return acct

    def sync(self, email: str, full: bool = False) -> RunSummary:
        return self.engine.run(self.account(email).id, full=full)

    # CRM side ---------------------------------------------------------------
    def create(self, email: str, subject: str = "Call Bob", *, start: dt.datetime | None = None, hours: float = 1, **fields: Any) -> int:
        start = start or soon(2)
        data = dict(subject=subject, type="call", start=start.isoformat(), end=(start + dt.timedelta(hours=hours)).isoformat(), timezone="Europe/Berlin")
        if fields.get("all_day"):
            data.update(start=start.date().isoformat(), end=(start.date() + dt.timedelta(days=max(1, round(hours / 24)))).isoformat(), timezone=None)
        data.update(fields)
        with self.session() as s:
            return activities.create_activity(s, s.get(User, self.users[email]), ActivityCreate(**data)).id

    def edit(self, email: str, activity_id: int, **fields: Any) -> None:
        with self.session() as s:
            activities.update_activity(s, s.get(User, self.users[email]), activity_id, ActivityUpdate(**fields))

    def delete(self, email: str, activity_id: int) -> None:
        with self.session() as s:
            activities.delete_activity(s, s.get(User, self.users[email]), activity_id)

    def activity(self, activity_id: int) -> Activity:
        with self.session() as s:
            found = s.get(Activity, activity_id)
            assert found is not None
            s.expunge(found)
            return found

    def activities(self, email: str, *, deleted: bool = False) -> list[Activity]:
        with self.session() as s:
            rows = list(s.scalars(select(Activity).where(Activity.owner_id == self.users[email], Activity.deleted.is_(deleted)).order_by(Activity.id)))
            for row in rows:
                s.expunge(row)
            return rows

    def type_key(self, activity: Activity) -> str:
        with self.session() as s:
            return s.get(ActivityType, activity.type_id).key  # type: ignore[union-attr]

    def links(self, email: str) -> list[SyncLink]:
        with self.session() as s:
            rows = list(s.scalars(select(SyncLink).where(SyncLink.account_id == self.account(email).id)))
            for row in rows:
                s.expunge(row)
            return rows

    def last_run(self, email: str) -> SyncRun:
        with self.session() as s:
            run = s.scalar(select(SyncRun).where(SyncRun.account_id == self.account(email).id).order_by(SyncRun.id.desc()))
            assert run is not None
            s.expunge(run)
            return run

    # calendar side ----------------------------------------------------------
    def events(self, email: str, account: str | None = None) -> list[Event]:
        return self.server.events(account or email)

    def put_event(self, email: str, summary: str = "Dentist", *, start: dt.datetime | None = None, hours: float = 1, **fields: Any) -> Event:
        start = start or soon(3)
        event = Event(calendar_id="primary", summary=summary, start=start, end=start + dt.timedelta(hours=hours), timezone="UTC", **fields)
        return self.server.user_put(email, event)


def session_of(context: AppContext) -> Session:
    return context.sessions()
