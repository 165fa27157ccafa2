"""Every API request the emulator answered, in order, for tests and benchmarks to count and read.

OAuth and `/_emulator/` calls are not API requests and are not logged; a batch is one entry whose
`parts` hold its calls in the same shape. Both emulators (Google, Microsoft) log the same way.
"""

from __future__ import annotations

import threading
from typing import Any


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def add(self, method: str, path: str, query: dict[str, list[str]], status: int, headers: dict[str, str],
            body: Any, parts: list[dict[str, Any]] | None = None) -> None:
        with self._lock:
            self._entries.append({"seq": len(self._entries) + 1, "method": method, "path": path, "query": query,
                                  "status": status, "headers": headers, "body": body, "parts": parts or []})

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries[max(seq, 0):]]
