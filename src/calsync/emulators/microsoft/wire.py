"""One API request and its answer, independent of HTTP (a `$batch` request is one too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    method: str
    path: str                      # /v1.0/me/events/… (still %-encoded)
    query: dict[str, list[str]]
    headers: dict[str, str]        # lower-case names
    body: bytes
    base_url: str


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Work that must run outside the store lock before the answer is known (a subscription's
    # validation handshake); the HTTP layer awaits it.
    pending: Callable[[], Awaitable["Reply"]] | None = None


def one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None
