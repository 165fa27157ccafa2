"""`Retry-After` read the same way by every provider: seconds, or an HTTP date (RFC 9110 allows
both; Google and Graph send seconds, a CalDAV server behind a proxy may well send a date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def seconds(value: str | None, now: Callable[[], dt.datetime] = _utcnow) -> float | None:
    """The wait a `Retry-After` value asks for, in seconds (never negative), or None when absent
    or unreadable."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - now()).total_seconds())


def from_headers(headers: Mapping[str, Any] | Any, now: Callable[[], dt.datetime] = _utcnow) -> float | None:
    """`Retry-After` of a header mapping whose keys may be in any case (httpx headers, or a batch
    part's plain dict), in seconds, or None."""
    if headers is None:
        return None
    value = next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    return seconds(None if value is None else str(value), now)
