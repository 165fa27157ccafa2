"""The emulator's state: users, their calendars, event records, the change sequence and sync tokens.

Every API call runs under `Store.lock`, so a request sees one consistent state; each committed
change takes the next number of one global sequence, which is what sync tokens point at.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calsync.emulators.google.clock import Clock
from calsync.emulators.google.errors import ApiError, not_found


@dataclass
class Record:
    """One stored event (single event, recurring master, or instance exception)."""

    resource: dict[str, Any]
    etag: str
    seq: int
    created: datetime
    updated: datetime

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    time_zone: str
    access_role: str = "owner"
    primary: bool = False
    seq: int = 0
    etag: str = '"0"'
    events: dict[str, Record] = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        return self.access_role in ("owner", "writer")


@dataclass
class TokenState:
    calendar_id: str
    seq: int
    generation: int
    issued_at: datetime


ChangeListener = Callable[[str, str], None]   # (calendar id, "exists" | "not_exists")


class Store:
    def __init__(self, clock: Clock, users: list[str], time_zone: str = "UTC") -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.seq = 0
        self.users: dict[str, str] = {}
        self.calendars: dict[str, Calendar] = {}
        self.listeners: list[ChangeListener] = []
        self.token_generation = 0
        self.sync_token_ttl_seconds: float | None = None
        self._tokens: dict[str, TokenState] = {}
        for email in users:
            self.add_user(email, time_zone)

    # users and calendars ------------------------------------------------------------------------
    def add_user(self, email: str, time_zone: str = "UTC") -> Calendar:
        with self.lock:
            self.users[email] = time_zone
            if email not in self.calendars:
                self.calendars[email] = Calendar(id=email, owner=email, summary=email, time_zone=time_zone,
                                                 primary=True, seq=self.next_seq(), etag=self.new_etag())
            return self.calendars[email]

    def add_calendar(self, owner: str, summary: str, access_role: str = "owner",
                     time_zone: str | None = None) -> Calendar:
        with self.lock:
            cal_id = f"c_{secrets.token_hex(12)}@group.calendar.emulator"
            cal = Calendar(id=cal_id, owner=owner, summary=summary, time_zone=time_zone or self.users[owner],
                           access_role=access_role, seq=self.next_seq(), etag=self.new_etag())
            self.calendars[cal_id] = cal
            return cal

    def calendars_of(self, user: str) -> list[Calendar]:
        return [c for c in self.calendars.values() if c.owner == user]

    def calendar_for(self, user: str, calendar_id: str) -> Calendar:
        """`primary` or a calendar id this user can see; 404 otherwise (as Google answers)."""
        if calendar_id == "primary":
            calendar_id = user
        cal = self.calendars.get(calendar_id)
        if cal is None or cal.owner != user:
            raise not_found()
        return cal

    # change sequence ------------------------------------------------------------------------------
    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_etag(self) -> str:
        return f'"{3_181_000_000_000_000 + self.seq * 1000 + secrets.randbelow(1000)}"'

    def commit(self, cal: Calendar, record: Record, *, deleted: bool) -> None:
        """Stores a changed record and tells the watch channels of its calendar."""
        cal.events[record.id] = record
        cal.seq = max(cal.seq, record.seq)
        for listener in list(self.listeners):
            listener(cal.id, "not_exists" if deleted else "exists")

    # sync tokens ---------------------------------------------------------------------------------
    def mint_sync_token(self, calendar_id: str, seq: int) -> str:
        """Same position and generation -> same token (an idle incremental sync repeats its token)."""
        raw = json.dumps([calendar_id, seq, self.token_generation], separators=(",", ":")).encode()
        token = "CAS" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if token not in self._tokens:
            self._tokens[token] = TokenState(calendar_id, seq, self.token_generation, self.clock.now())
        return token

    def resolve_sync_token(self, token: str, calendar_id: str) -> int:
        """The sequence position of a token; 410 fullSyncRequired if expired, unknown or garbled."""
        state = self._tokens.get(token)
        expired = state is None or state.calendar_id != calendar_id or state.generation != self.token_generation
        if state is not None and not expired and self.sync_token_ttl_seconds is not None:
            expired = (self.clock.now() - state.issued_at).total_seconds() > self.sync_token_ttl_seconds
        if expired:
            raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
                           domain="calendar", location="syncToken", location_type="parameter")
        assert state is not None
        return state.seq

    def expire_sync_tokens(self) -> None:
        with self.lock:
            self.token_generation += 1
            self._tokens.clear()
