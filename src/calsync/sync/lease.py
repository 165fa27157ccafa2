"""The cross-process run lease: the app's runner and `calsync sync` (separate processes, one
database) never sync one account at once. The lease is two columns on the account, taken by one
atomic UPDATE that only matches a free or expired lease (the same on SQLite and PostgreSQL), renewed
while a long run goes on, and cleared at the end. A process that dies leaves a lease that expires
after LEASE_TIME, so the account is never locked for good."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from calsync.store.tables import SyncAccount

LEASE_TIME = dt.timedelta(minutes=5)


def _now() -> dt.datetime:
    # wall-clock time, not the engine's clock seam: leases are between real processes
    return dt.datetime.now(dt.timezone.utc)


class Lease:
    """One run's hold on one account."""

    def __init__(self, sessions: sessionmaker[Session], account_id: int) -> None:
        self.sessions, self.account_id = sessions, account_id
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.renewed_at: dt.datetime | None = None

    def _update(self, *conditions: object, owner: str | None, until: dt.datetime | None) -> bool:
        session = self.sessions()
        try:
            result = session.execute(
                update(SyncAccount).where(SyncAccount.id == self.account_id, *conditions)  # type: ignore[arg-type]
                .values(lease_owner=owner, lease_until=until).execution_options(synchronize_session=False)
            )
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]
        finally:
            session.close()

    def take(self) -> bool:
        """True when this run now holds the lease (it was free, expired, or already ours)."""
        now = _now()
        taken = self._update(
            or_(SyncAccount.lease_until.is_(None), SyncAccount.lease_until < now, SyncAccount.lease_owner == self.owner),
            owner=self.owner, until=now + LEASE_TIME,
        )
        if taken:
            self.renewed_at = now
        return taken

    def renew(self) -> None:
        """Pushes the expiry out; cheap to call often (writes at most every third of LEASE_TIME)."""
        now = _now()
        if self.renewed_at is not None and now - self.renewed_at < LEASE_TIME / 3:
            return
        self._update(SyncAccount.lease_owner == self.owner, owner=self.owner, until=now + LEASE_TIME)
        self.renewed_at = now

    def release(self) -> None:
        self._update(SyncAccount.lease_owner == self.owner, owner=None, until=None)
        self.renewed_at = None
