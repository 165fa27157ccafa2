"""The emulator's clock: real time plus an offset a test can advance (no sleeping in tests)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=timezone.utc)

    def now(self) -> datetime:
        """Strictly increasing aware UTC time (two writes never share an `updated`)."""
        with self._lock:
            moment = datetime.now(timezone.utc) + self._offset
            if moment <= self._last:
                moment = self._last + timedelta(milliseconds=1)
            self._last = moment
            return moment

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
