"""The cross-process run lease: no two processes (the app's runner, `calsync sync`, Celery
workers on other machines; one database) ever sync one account at once. The lease is two columns
on the account, taken by one atomic UPDATE that only matches a free or expired lease (the same on
SQLite and PostgreSQL), kept alive by a heartbeat thread while the run holds it, and cleared at
the end.

Why 60 s and a 15 s heartbeat: a live run renews every 15 s whatever it is doing (even stuck in
one slow provider request), so it never loses its lease; a process that dies (SIGKILL, power)
stops renewing, so its lease lapses at most 60 s later and another worker takes the account over
(docs/scale-out.md: picked up within 90 s)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from calsync.store.tables import SyncAccount

log = logging.getLogger("calsync.sync")
LEASE_TIME = dt.timedelta(seconds=60)
HEARTBEAT = 15.0  # seconds between renewals while a run holds the lease


def _now() -> dt.datetime:
    # wall-clock time, not the engine's clock seam: leases are between real processes
    return dt.datetime.now(dt.timezone.utc)


class LeaseLost(RuntimeError):
    """This run's lease is held by another process now: the run must stop."""


class Lease:
    """One run's hold on one account. `take()` starts the heartbeat, `release()` stops it."""

    def __init__(self, sessions: sessionmaker[Session], account_id: int, *,
                 lease_time: dt.timedelta | None = None, heartbeat: float | None = None) -> None:
        self.sessions, self.account_id = sessions, account_id
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.lease_time = lease_time if lease_time is not None else LEASE_TIME
        self.heartbeat = heartbeat if heartbeat is not None else HEARTBEAT
        self.renewed_at: dt.datetime | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.lost = False  # another process took the lease over (set by the heartbeat or a renewal)

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
            owner=self.owner, until=now + self.lease_time,
        )
        if taken:
            self.renewed_at, self.lost = now, False
            self._start_heartbeat()
        return taken

    def renew(self, *, force: bool = False) -> bool:
        """Pushes the expiry out; cheap to call often (writes at most every third of the lease
        time unless forced). The run's own calls (`force=False`) raise LeaseLost once another
        process has taken the lease over (this one was frozen past its expiry): the run stops at
        its next step instead of writing beside the other."""
        if self.lost and not force:
            raise LeaseLost(f"the run lease of account {self.account_id} was taken over by another process")
        now = _now()
        if not force and self.renewed_at is not None and now - self.renewed_at < self.lease_time / 3:
            return True
        kept = self._update(SyncAccount.lease_owner == self.owner, owner=self.owner, until=now + self.lease_time)
        self.renewed_at = now
        if not kept:
            self.lost = True
            if not force:
                raise LeaseLost(f"the run lease of account {self.account_id} was taken over by another process")
        return kept

    def release(self) -> None:
        self._stop_heartbeat()
        self._update(SyncAccount.lease_owner == self.owner, owner=None, until=None)
        self.renewed_at = None

    # ------------------------------------------------------------ heartbeat

    def _start_heartbeat(self) -> None:
        if self._beat is not None and self._beat.is_alive():
            return
        self._stop.clear()
        self._beat = threading.Thread(target=self._beating, name=f"calsync-lease-{self.account_id}", daemon=True)
        self._beat.start()

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(timeout=30)
        self._beat = None

    def _beating(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                if not self.renew(force=True):
                    log.warning("lost the run lease of account %s", self.account_id)
                    return
            except Exception:  # a database hiccup: the next beat tries again, well within the lease
                log.exception("renewing the run lease of account %s failed", self.account_id)
