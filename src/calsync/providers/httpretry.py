"""The retry loop shared by the JSON providers' HTTP layers (Google, Microsoft Graph).

Why one loop: both APIs take a bearer token, answer 401 when it has expired, 429 (and 5xx) with
`Retry-After` when they want to be left alone, and count against a rate limit shared by every
worker (providers/gate.py). What differs is kept by each provider's http.py as small hooks:
which answers are a rate limit (Google also says so in 403 reasons), which ones hold back every
worker, statuses that are an error of their own, and anything around the request itself (Graph's
per-mailbox concurrency slot).

- 401: refresh the token once and repeat the call; a second 401 is an AuthError.
- A rate limit and 5xx (and network errors): wait `Retry-After` (else exponential back-off with
  jitter) and retry a few times, then RateLimited (with `retry_after`) or ProviderError.
- A `Retry-After` longer than MAX_WAIT is not waited here: it goes back to the scheduler.
Every other status is handed back to the caller, which knows what 404, 409, 410 and 412 mean."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from calsync.providers import gate, retryafter, tls
from calsync.providers.tokens import TokenSource
from calsync.sync.provider import AuthError, ProviderError, RateLimited

MAX_WAIT = 10.0  # longer waits are left to the scheduler (RateLimited.retry_after)


def backoff(attempt: int, wait: float | None) -> float:
    """The pause before retry `attempt` (0-based): the server's `wait` when it gave one, else
    exponential back-off with jitter, at most MAX_WAIT."""
    if wait is not None:
        return wait
    return min(MAX_WAIT, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)


def message(response: httpx.Response) -> str:
    """The `error.message` of a JSON error body (Google and Graph both send one), else the start
    of the body."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


class RetryingHttp:
    """One httpx client for one account, with the retry policy above; a provider subclasses it
    and names itself (`provider`, `service`, `reconnect_as`)."""

    provider = ""  # the name of its shared rate limit (providers/gate.py)
    service = ""  # how messages name the API ("Google Calendar")
    reconnect_as = ""  # what the user reconnects in Settings › Calendar sync

    def __init__(self, base_url: str, tokens: TokenSource, *, timeout: float = 30.0, retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.tokens = tokens
        self.retries = retries
        self.sleep = sleep
        self.requests = 0
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                   headers=headers, verify=tls.client_context())

    def backoff(self, attempt: int, wait: float | None) -> float:
        return backoff(attempt, wait)

    # The provider's hooks.
    def rate_limited(self, response: httpx.Response) -> bool:
        """Whether this answer is the API's rate limit (retried, then RateLimited)."""
        return response.status_code == 429

    def holds_back_everyone(self, response: httpx.Response) -> bool:
        """Whether this answer's `Retry-After` applies to every worker (the app's quota), not only
        to this request."""
        return False

    def check(self, response: httpx.Response) -> None:
        """Raises for an answer that is neither retried nor the caller's to read."""

    def _request(self, method: str, url: str, cost: int = 1, **kwargs: Any) -> httpx.Response:
        """One request, past the shared gate (`cost`: what it counts as against the rate limit)."""
        gate.current().wait(self.provider, cost)
        self.requests += 1
        return self.client.request(method, url, **kwargs)

    def send(self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None,
             headers: dict[str, str] | None = None, content: bytes | None = None, cost: int = 1) -> httpx.Response:
        """`url`: a path below the API root or a whole link the API gave; `cost`: the calls this
        request counts as against the API's quota (a batch: its parts)."""
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.bearer()
            all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = self._request(method, url, cost, params=params, json=json, headers=all_headers,
                                         content=content)
            except httpx.HTTPError as exc:
                if attempt < self.retries:
                    self.sleep(self.backoff(attempt, None))
                    attempt += 1
                    continue
                raise ProviderError(f"cannot reach {self.service}: {exc}") from None
            status = response.status_code
            if status == 401:
                if refreshed:
                    raise AuthError(f"{self.service} refused the access token after a refresh: reconnect "
                                    f"{self.reconnect_as} in Settings › Calendar sync")
                self.tokens.refresh_after_401(token)
                refreshed = True
                continue
            limited = self.rate_limited(response)
            if limited or status >= 500:
                wait = retryafter.seconds(response.headers.get("Retry-After"))
                if wait and self.holds_back_everyone(response):
                    gate.current().hold_back(self.provider, wait)  # every worker waits, not only this one
                if attempt < self.retries and (wait is None or wait <= MAX_WAIT):
                    self.sleep(self.backoff(attempt, wait))
                    attempt += 1
                    continue
                if limited:
                    raise RateLimited(f"{self.service}'s rate limit was reached: the sync continues later",
                                      retry_after=wait or 60.0)
                raise ProviderError(f"{self.service} failed (HTTP {status}): {message(response)}", retry_after=wait)
            self.check(response)
            return response

    def close(self) -> None:
        self.client.close()
