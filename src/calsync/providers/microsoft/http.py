"""HTTP to Microsoft Graph: bearer tokens, the headers every call carries, retries, and the
errors the engine understands.

- Every request says `Prefer: outlook.timezone="UTC", IdType="ImmutableId",
  outlook.body-content-type="text"`: times come back in UTC (no Windows zone names to map on
  read), ids survive a move between calendars, bodies come as text where Graph can.
- At most 4 requests at a time per mailbox (Graph's MailboxConcurrency limit): a semaphore.
- 401: refresh the token once and repeat; a second 401 is an AuthError. 403 `ErrorAccessDenied`
  is handed back (a read-only calendar), the caller words it.
- 429 and 503/504 (and other 5xx, network errors): wait `Retry-After` (else exponential back-off
  with jitter) and retry a few times, then RateLimited / ProviderError with `retry_after`.
Every other status is handed back to the caller, which knows what 404, 410 and 412 mean."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from calsync.providers import gate, retryafter, tls
from calsync.providers.calls import Answer, Call
from calsync.providers.tokens import TokenSource
from calsync.sync.provider import AuthError, ProviderError, RateLimited

PREFER = 'outlook.timezone="UTC", IdType="ImmutableId", outlook.body-content-type="text"'
MAX_CONCURRENT = 4  # Graph's per-mailbox concurrency limit
PROVIDER = "microsoft"  # the name of its shared rate limit (providers/gate.py)
MAX_WAIT = 10.0  # longer waits are left to the scheduler (RateLimited.retry_after)

__all__ = ["Answer", "Call", "GraphHttp", "PREFER", "error_code", "message", "path", "retry_after"]


def path(*segments: str) -> str:
    """`/v1.0/<segments>` with each segment escaped (Graph ids hold '=', '/', '+' and '-')."""
    return "/v1.0/" + "/".join(quote(s, safe="") for s in segments)


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def retry_after(headers: Any) -> float | None:
    """`Retry-After` in seconds (Graph sends seconds; a date is read too), or None."""
    return retryafter.from_headers(headers)


class GraphHttp:
    """One httpx client for one mailbox, with the retry policy and concurrency limit above."""

    def __init__(self, graph_url: str, tokens: TokenSource, *, timeout: float = 30.0, retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
                 concurrency: int = MAX_CONCURRENT) -> None:
        self.tokens = tokens
        self.retries = retries
        self.sleep = sleep
        self.requests = 0
        self.slots = threading.BoundedSemaphore(concurrency)
        self.client = httpx.Client(base_url=graph_url.rstrip("/"), timeout=timeout, transport=transport,
                                   headers={"Prefer": PREFER}, verify=tls.client_context())

    def backoff(self, attempt: int, wait: float | None) -> float:
        if wait is not None:
            return wait
        return min(MAX_WAIT, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)

    def _request(self, method: str, url: str, cost: int = 1, **kwargs: Any) -> httpx.Response:
        with self.slots:
            gate.current().wait(PROVIDER, cost)
            self.requests += 1
            return self.client.request(method, url, **kwargs)

    def send(self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None,
             headers: dict[str, str] | None = None, cost: int = 1) -> httpx.Response:
        """`url` is a path below the Graph root, or a whole nextLink/deltaLink Graph gave us; `cost`:
        the requests it counts as against Graph's limits (a `$batch`: its parts)."""
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.bearer()
            all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = self._request(method, url, cost, params=params, json=json, headers=all_headers)
            except httpx.HTTPError as exc:
                if attempt < self.retries:
                    self.sleep(self.backoff(attempt, None))
                    attempt += 1
                    continue
                raise ProviderError(f"cannot reach Microsoft Graph: {exc}") from None
            status = response.status_code
            if status == 401:
                if refreshed:
                    raise AuthError("Microsoft Graph refused the access token after a refresh: reconnect "
                                    "Microsoft 365 in Settings › Calendar sync")
                self.tokens.refresh_after_401(token)
                refreshed = True
                continue
            if status == 429 or status >= 500:
                wait = retry_after(response.headers)
                if attempt < self.retries and (wait is None or wait <= MAX_WAIT):
                    self.sleep(self.backoff(attempt, wait))
                    attempt += 1
                    continue
                if status == 429:
                    raise RateLimited("Microsoft Graph's rate limit was reached: the sync continues later",
                                      retry_after=wait or 60.0)
                raise ProviderError(f"Microsoft Graph failed (HTTP {status}): {message(response)}", retry_after=wait)
            return response

    def close(self) -> None:
        self.client.close()
