"""HTTP to Microsoft Graph: the shared retry loop (providers/httpretry.py) with the headers every
Graph call carries and its per-mailbox concurrency limit.

- Every request says `Prefer: outlook.timezone="UTC", IdType="ImmutableId",
  outlook.body-content-type="text"`: times come back in UTC (no Windows zone names to map on
  read), ids survive a move between calendars, bodies come as text where Graph can.
- At most 4 requests at a time per mailbox (Graph's MailboxConcurrency limit): a semaphore.
- 429 is the rate limit; 403 `ErrorAccessDenied` is handed back (a read-only calendar), the
  caller words it.
Every other status is handed back to the caller, which knows what 404, 410 and 412 mean."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from calsync.providers import retryafter
from calsync.providers.calls import Answer, Call
from calsync.providers.httpretry import RetryingHttp, message
from calsync.providers.tokens import TokenSource

PREFER = 'outlook.timezone="UTC", IdType="ImmutableId", outlook.body-content-type="text"'
MAX_CONCURRENT = 4  # Graph's per-mailbox concurrency limit
PROVIDER = "microsoft"  # the name of its shared rate limit (providers/gate.py)

__all__ = ["Answer", "Call", "GraphHttp", "MAX_CONCURRENT", "PREFER", "PROVIDER", "error_code", "message", "path",
           "retry_after"]


def path(*segments: str) -> str:
    """`/v1.0/<segments>` with each segment escaped (Graph ids hold '=', '/', '+' and '-')."""
    return "/v1.0/" + "/".join(quote(s, safe="") for s in segments)


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def retry_after(headers: Any) -> float | None:
    """`Retry-After` in seconds (Graph sends seconds; a date is read too), or None."""
    return retryafter.from_headers(headers)


class GraphHttp(RetryingHttp):
    """One httpx client for one mailbox, with the retry policy of providers/httpretry.py and the
    concurrency limit above."""

    provider = PROVIDER
    service = "Microsoft Graph"
    reconnect_as = "Microsoft 365"

    def __init__(self, graph_url: str, tokens: TokenSource, *, timeout: float = 30.0, retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
                 concurrency: int = MAX_CONCURRENT) -> None:
        super().__init__(graph_url, tokens, timeout=timeout, retries=retries, sleep=sleep, transport=transport,
                         headers={"Prefer": PREFER})
        self.slots = threading.BoundedSemaphore(concurrency)

    def _request(self, method: str, url: str, cost: int = 1, **kwargs: Any) -> httpx.Response:
        with self.slots:  # the gate is asked inside the slot: a request waiting for a slot costs nothing yet
            return super()._request(method, url, cost, **kwargs)
