"""HTTP to the Calendar API: the shared retry loop (providers/httpretry.py) with Google's own
reading of its errors.

- 403 `rateLimitExceeded`/`userRateLimitExceeded`/`quotaExceeded` is a rate limit like 429:
  backed off and retried, then RateLimited with `retry_after`.
- A 429, or a 403 naming the whole app's quota, with Retry-After holds back every worker.
- 403 `insufficientPermissions`: the grant lacks the calendar scopes, an AuthError.
Every other status is handed back to the caller, which knows what 404, 409, 410 and 412 mean
for its method."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from calsync.providers.httpretry import RetryingHttp, message
from calsync.sync.provider import AuthError

RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
PROJECT_REASONS = {"rateLimitExceeded", "quotaExceeded"}  # the whole app's quota, not one user's
PROVIDER = "google"  # the name of its shared rate limit (providers/gate.py)

__all__ = ["GoogleHttp", "PROJECT_REASONS", "PROVIDER", "RATE_REASONS", "message", "path", "reasons"]


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


class GoogleHttp(RetryingHttp):
    """One httpx client for one account, with the retry policy of providers/httpretry.py."""

    provider = PROVIDER
    service = "Google Calendar"
    reconnect_as = "Google Calendar"

    def rate_limited(self, response: httpx.Response) -> bool:
        status = response.status_code
        return status == 429 or (status == 403 and bool(reasons(response) & RATE_REASONS))

    def holds_back_everyone(self, response: httpx.Response) -> bool:
        return response.status_code == 429 or bool(reasons(response) & PROJECT_REASONS)

    def check(self, response: httpx.Response) -> None:
        if response.status_code == 403 and "insufficientPermissions" in reasons(response):
            raise AuthError("Google Calendar access was granted without the calendar permissions: "
                            "reconnect Google Calendar and allow access to your calendars")
