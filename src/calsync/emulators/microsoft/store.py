"""The emulator's state: mailboxes, their calendars, event records and one change sequence.

Every API call runs under `Store.lock`. Each committed change takes the next number of one global
sequence; delta tokens remember the sequence numbers of what they showed. Deletion is a hard
delete (the record goes away), as in Outlook.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calsync.emulators.common.clock import Clock
from calsync.emulators.microsoft import ids
from calsync.emulators.microsoft.errors import item_not_found


@dataclass
class Calendar:
    key: bytes
    owner: str
    name: str
    is_default: bool = False
    can_edit: bool = True
    change_key: str = field(default_factory=ids.new_change_key)

    @property
    def id(self) -> str:
        return ids.calendar_id(self.owner, self.key)


@dataclass
class Record:
    """One stored event: a single instance, a series master, or an exception of a series."""

    key: bytes
    calendar: Calendar
    data: dict[str, Any]          # the writable properties, as the client wrote them
    change_key: str
    seq: int
    created: datetime
    modified: datetime
    transaction_id: str | None = None
    extended: dict[str, tuple[str, str]] = field(default_factory=dict)   # match key -> (id, value)
    master_key: bytes | None = None       # exceptions: their series master
    original_start: datetime | None = None  # exceptions: the occurrence they replace (UTC)
    cancelled: set[datetime] = field(default_factory=set)   # masters: original starts deleted
    generation: int = 0                   # bumps when moved to another calendar (REST ids change)
    content_seq: int = 0                  # masters: last change that alters their occurrences
    content_key: str = ""

    @property
    def is_master(self) -> bool:
        return bool(self.data.get("recurrence")) and self.master_key is None


@dataclass
class Mailbox:
    user: str
    calendars: dict[bytes, Calendar] = field(default_factory=dict)
    records: dict[bytes, Record] = field(default_factory=dict)
    transactions: dict[str, bytes] = field(default_factory=dict)

    @property
    def default(self) -> Calendar:
        return next(c for c in self.calendars.values() if c.is_default)


# (user, record, changeType "created" | "updated" | "deleted")
ChangeListener = Callable[[str, Record, str], None]


class Store:
    def __init__(self, clock: Clock, users: list[str]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.seq = 0
        self.mailboxes: dict[str, Mailbox] = {}
        self.listeners: list[ChangeListener] = []
        self.mail: list[dict[str, Any]] = []
        for user in users:
            self.add_user(user)

    @property
    def users(self) -> list[str]:
        return list(self.mailboxes)

    def add_user(self, user: str) -> Mailbox:
        with self.lock:
            box = self.mailboxes.setdefault(user, Mailbox(user))
            if not box.calendars:
                self.add_calendar(user, "Calendar", default=True)
            return box

    def add_calendar(self, user: str, name: str, default: bool = False, can_edit: bool = True) -> Calendar:
        with self.lock:
            cal = Calendar(ids.new_key(), user, name, is_default=default, can_edit=can_edit)
            self.mailboxes[user].calendars[cal.key] = cal
            return cal

    def mailbox(self, user: str) -> Mailbox:
        return self.mailboxes[user]

    def calendar(self, user: str, calendar_id: str) -> Calendar:
        for cal in self.mailboxes[user].calendars.values():
            if cal.id == calendar_id:
                return cal
        raise item_not_found()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # records -------------------------------------------------------------------------------------
    def commit(self, user: str, record: Record, change: str, *, content: bool = True) -> None:
        """Stores a new version (new change key, next sequence number) and tells the listeners.

        `content=False` marks a master change that leaves its occurrences as they were (an
        occurrence cancelled or turned into an exception): their etags stay."""
        record.change_key = ids.new_change_key()
        record.seq = self.next_seq()
        if content or not record.content_key:
            record.content_seq, record.content_key = record.seq, record.change_key
        record.modified = self.clock.now()
        self.mailboxes[user].records[record.key] = record
        if record.transaction_id:
            self.mailboxes[user].transactions.setdefault(record.transaction_id, record.key)
        for listener in list(self.listeners):
            listener(user, record, change)

    def remove(self, user: str, record: Record) -> None:
        """Hard delete: the record is gone; its transactionId may be used again."""
        box = self.mailboxes[user]
        box.records.pop(record.key, None)
        if record.transaction_id and box.transactions.get(record.transaction_id) == record.key:
            del box.transactions[record.transaction_id]
        self.next_seq()
        for listener in list(self.listeners):
            listener(user, record, "deleted")

    def exceptions_of(self, user: str, master: Record) -> list[Record]:
        return [r for r in self.mailboxes[user].records.values() if r.master_key == master.key]

    def in_calendar(self, cal: Calendar) -> list[Record]:
        return [r for r in self.mailboxes[cal.owner].records.values() if r.calendar is cal]
