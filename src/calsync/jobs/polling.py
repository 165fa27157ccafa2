"""Polling of calendars that cannot push. An external CalDAV server (iCloud, Fastmail,
Nextcloud, Radicale) never tells us about a change, so its accounts are synced every
`CALSYNC_CALDAV_POLL_SECONDS` (default 60); an idle poll is one sync-collection REPORT. The
built-in calendar asks for a sync on every write (web/dav_writes.py) and Google and Microsoft
push, so they keep the regular schedule as a backstop only.

Each account polls at its own fixed slot within the period (a hash of its id), so a thousand
accounts spread over the minute instead of firing together, and the same account keeps the same
slot across restarts of the runner."""

from __future__ import annotations

import hashlib
import math

from sqlalchemy.orm import Session, sessionmaker

from calsync.crypto import SecretBox
from calsync.store.tables import SyncAccount
from calsync.sync.credentials import stored


def is_polled(box: SecretBox, account: SyncAccount) -> bool:
    """True for a CalDAV account on an external server (the built-in calendar tells us itself)."""
    if account.provider != "caldav":
        return False
    try:
        return not stored(box, account).get("embedded")
    except Exception:  # unreadable credentials: the run reports it; the regular schedule stays
        return False


def slot(account_id: int, period: float) -> float:
    """The account's offset within every period, in [0, period): deterministic jitter."""
    digest = hashlib.sha256(f"calsync-poll:{account_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") / 2**64) * period


def next_poll(account_id: int, period: float, now: float) -> float:
    """The first of the account's slots strictly after `now` (clock seconds)."""
    offset = slot(account_id, period)
    return (math.floor((now - offset) / period) + 1) * period + offset


def poll_delay(sessions: sessionmaker[Session], box: SecretBox, account_id: int, period: float, now: float) -> float | None:
    """After a good run: seconds until the account's next poll slot, or None when it is not polled."""
    session = sessions()
    try:
        account = session.get(SyncAccount, account_id)
        polled = account is not None and account.enabled and is_polled(box, account)
    finally:
        session.close()
    return next_poll(account_id, period, now) - now if polled else None
