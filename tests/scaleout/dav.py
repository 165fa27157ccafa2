"""What a calendar user sees in a Radicale calendar: the events' titles, read from its storage."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.support.radicale import DavServer

T = TypeVar("T")


def titles(server: DavServer, user: str, calendar: str) -> list[str]:
    """Every event's SUMMARY in the user's calendar (duplicates show as repeated titles)."""
    folder = Path(server.storage) / "collection-root" / user / calendar
    found: list[str] = []
    for item in sorted(folder.glob("*.ics")):
        text = item.read_text(errors="replace").replace("\r\n ", "")
        found += [m.group(1).strip() for m in re.finditer(r"^SUMMARY[^:]*:(.*)$", text, re.M)
                  if "BEGIN:VEVENT" in text]
    return found


def eventually(check: Callable[[], T], timeout: float, what: str, *, logs: Callable[[], str] = lambda: "") -> T:
    """Polls `check` until it returns something truthy, up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s\n{logs()}")
        time.sleep(0.2)
