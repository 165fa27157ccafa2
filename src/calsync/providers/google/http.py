"""HTTP to the Calendar API: bearer tokens, retries and the errors the engine understands.

- 401: refresh the token once and repeat the call; a second 401 is an AuthError.
- 403 `rateLimitExceeded`/`userRateLimitExceeded`/`quotaExceeded` and 429: back off (Retry-After,
  else exponential with jitter) and retry a few times, then RateLimited with `retry_after`.
- 5xx and network errors: retried the same way, then ProviderError.
Every other status is handed back to the caller, which knows what 404, 409, 410 and 412 mean
for its method."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from calsync.providers import gate, retryafter, tls
from calsync.providers.google.auth import TokenSource
from calsync.sync.provider import AuthError, ProviderError, RateLimited

RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
PROJECT_REASONS = {"rateLimitExceeded", "quotaExceeded"}  # the whole app's quota, not one user's
PROVIDER = "google"  # the name of its shared rate limit (providers/gate.py)
MAX_WAIT = 10.0  # longer waits are left to the scheduler (RateLimited.retry_after)


def path(*segments: str) -> str:
    """`/calendar/v3/<segments>` with each segment escaped (calendar ids hold '@' and '#')."""
    return "/calendar/v3/" + "/".join(quote(s, safe="") for s in segments)


def reasons(response: httpx.Response) -> set[str]:
    """The `reason`s of a Google error body (empty when the body is not one)."""
    try:
        errors = response.json().get("error", {}).get("errors", [])
    except (ValueError, AttributeError):
        return set()
    return {str(e.get("reason", "")) for e in errors if isinstance(e, dict)}


def message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


class GoogleHttp:
    """One httpx client for one account, with the retry policy above."""

    def __init__(self, api_url: str, tokens: TokenSource, *, timeout: float = 30.0, retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None) -> None:
        self.tokens = tokens
        self.retries = retries
        self.sleep = sleep
        self.requests = 0
        self.client = httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout, transport=transport,
                                   verify=tls.client_context())

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(MAX_WAIT, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)

    def send(self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None,
             headers: dict[str, str] | None = None, content: bytes | None = None, cost: int = 1) -> httpx.Response:
        """`cost`: the API calls this request counts as against the quota (a batch: its parts)."""
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.bearer()
            all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            gate.current().wait(PROVIDER, cost)
            self.requests += 1
            try:
                response = self.client.request(method, url, params=params, json=json, headers=all_headers,
                                               content=content)
            except httpx.HTTPError as exc:
                if attempt < self.retries:
                    self.sleep(self._backoff(attempt, None))
                    attempt += 1
                    continue
                raise ProviderError(f"cannot reach Google Calendar: {exc}") from None
            status = response.status_code
            if status == 401:
                if refreshed:
                    raise AuthError("Google Calendar refused the access token after a refresh: reconnect "
                                    "Google Calendar in Settings › Calendar sync")
                self.tokens.refresh_after_401(token)
                refreshed = True
                continue
            limited = status == 429 or (status == 403 and reasons(response) & RATE_REASONS)
            if limited or status >= 500:
                retry_after = _retry_after(response)
                if retry_after and (status == 429 or reasons(response) & PROJECT_REASONS):
                    gate.current().hold_back(PROVIDER, retry_after)  # every worker waits, not only this one
                if attempt < self.retries and (retry_after is None or retry_after <= MAX_WAIT):
                    self.sleep(self._backoff(attempt, retry_after))
                    attempt += 1
                    continue
                if limited:
                    raise RateLimited("Google Calendar's rate limit was reached: the sync continues later",
                                      retry_after=retry_after or 60.0)
                raise ProviderError(f"Google Calendar failed (HTTP {status}): {message(response)}",
                                    retry_after=retry_after)
            if status == 403 and "insufficientPermissions" in reasons(response):
                raise AuthError("Google Calendar access was granted without the calendar permissions: "
                                "reconnect Google Calendar and allow access to your calendars")
            return response

    def close(self) -> None:
        self.client.close()


def _retry_after(response: httpx.Response) -> float | None:
    return retryafter.seconds(response.headers.get("Retry-After"))
