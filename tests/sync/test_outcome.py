"""What a finished run asks for next (jobs/outcome.py), shared by the embedded runner and the workers."""

from __future__ import annotations

import random

from calsync.jobs.outcome import MAX_BACKOFF, follow_up, retry_delay
from calsync.sync.summary import RunSummary


def _summary(status: str, retry_after: float | None = None) -> RunSummary:
    return RunSummary(account_id=1, status=status, retry_after=retry_after)


def test_retries_back_off_exponentially_with_jitter_and_never_beyond_the_cap() -> None:
    rng = random.Random(7)
    for failures in range(1, 15):
        step = min(MAX_BACKOFF, 5.0 * 2 ** (failures - 1))
        delays = [retry_delay(failures, 5.0, rng=rng) for _ in range(50)]
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len({round(delay, 6) for delay in delays}) > 40  # spread out, not one value


def test_retry_after_is_a_floor() -> None:
    follow = follow_up(_summary("provider_error", retry_after=120.0), 1, retry_base=5.0)
    assert follow is not None and follow.reason == "retry" and follow.delay == 120.0


def test_an_auth_error_is_never_retried_and_other_outcomes_ask_for_what_they_need() -> None:
    assert follow_up(_summary("auth_error"), 3) is None
    assert follow_up(_summary("ok"), 0) is None
    assert follow_up(_summary("needs_confirmation"), 0) is None
    assert follow_up(_summary("partial"), 0).reason == "continue"  # type: ignore[union-attr]
    assert follow_up(_summary("restart"), 0).reason == "settings"  # type: ignore[union-attr]
    assert follow_up(_summary("busy"), 0).delay == 1.0  # type: ignore[union-attr]
