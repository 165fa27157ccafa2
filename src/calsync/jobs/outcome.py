"""What a finished run asks for next, the same for the embedded runner and the Celery workers:
run again soon, retry after a backoff, or nothing (wait for the schedule, a reconnect or the user).

Retries back off exponentially with full jitter (a random delay between half and all of the
step), so accounts that failed together (a provider outage) do not come back together; a
provider's Retry-After is a floor. `auth_error` never retries: the user must reconnect."""

from __future__ import annotations

import random
from dataclasses import dataclass

from calsync.sync.summary import RunSummary

MAX_BACKOFF = 1800.0
BUSY_DELAY = 1.0  # another process holds the account's lease: look again in a second


@dataclass(frozen=True)
class FollowUp:
    reason: str
    delay: float


def follow_up(summary: RunSummary, failures: int, *, retry_base: float = 5.0,
              rng: random.Random | None = None) -> FollowUp | None:
    """The next request after `summary`; `failures` counts failed runs in a row including this one."""
    status = summary.status
    if status == "busy":
        return FollowUp("busy", BUSY_DELAY)
    if status == "restart":  # the settings moved during the run: run with the new ones
        return FollowUp("settings", 0.0)
    if status == "partial":  # out of its time budget: goes on behind the accounts already due
        return FollowUp("continue", 0.0)
    if status in ("provider_error", "retry"):
        return FollowUp("retry", retry_delay(failures, retry_base, summary.retry_after, rng))
    return None  # ok, auth_error (waits for a reconnect), needs_confirmation (waits for the user), paused


def retry_delay(failures: int, retry_base: float, retry_after: float | None = None,
                rng: random.Random | None = None) -> float:
    """Exponential backoff (base · 2^(failures-1), at most MAX_BACKOFF) with jitter in [½, 1] of
    the step, never sooner than the provider's Retry-After."""
    step = min(MAX_BACKOFF, retry_base * 2 ** max(0, failures - 1))
    jittered = step * (0.5 + 0.5 * (rng or random).random())
    return max(jittered, retry_after or 0.0)


def counts_as_failure(summary: RunSummary) -> bool:
    return summary.status in ("provider_error", "retry")
