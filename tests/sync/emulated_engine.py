"""What the engine tests on the Google and Microsoft emulators share: a CRM user whose account
syncs with the side's fresh calendar, the side's listing, and the emulator's request log read as
short (method, last path segment, status) calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from calsync.store.tables import SyncAccount
from calsync.sync.model import Event
from calsync.sync.provider import Window
from calsync.web.context import AppContext
from tests.support.emulator_client import EmulatorClient
from tests.sync.harness import Harness

A = "alice@example.com"


def linked(context: AppContext, provider: str, side: Any, open_provider: Callable[[dict[str, Any]], Any]) -> Harness:
    """A harness whose user A syncs with `side`'s calendar (a GoogleHarness or MicrosoftHarness),
    the provider opened by `open_provider` from the side's credentials."""
    h = Harness(context)
    h.user(A)
    account_id = h.connect(A)
    with h.session() as s:
        s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(provider=provider,
                                                                                 calendar_id=side.calendar_id))
    credentials = side.credentials  # one dict: refreshed tokens carry over between runs
    h.engine.opener = lambda account: open_provider(credentials)  # type: ignore[assignment]
    return h


def listed(side: Any) -> list[Event]:
    """The events of the side's calendar from a day ago to a month ahead, as the provider lists them."""
    now = dt.datetime.now(dt.timezone.utc)
    window = Window(now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    return list(side.provider.list_changes(side.calendar_id, None, window).events)


def calls(emu: EmulatorClient, since: int) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"].rsplit("/", 1)[-1], r["status"]) for r in emu.requests(since)]


def mark(emu: EmulatorClient) -> int:
    """The emulator's last request number: what a test's `calls(emu, since)` starts after."""
    log = emu.requests()
    return int(log[-1]["seq"]) if log else 0
