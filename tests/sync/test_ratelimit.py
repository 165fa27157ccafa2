"""The shared rate limit (jobs/ratelimit.py) on a real Redis server: one token bucket per provider,
shared by every process on that Redis; a request waits its turn (the wait computed by the bucket,
slept once), a wait longer than a request should take goes back to the scheduler, and a 429's
Retry-After holds every process back. Sleeps are recorded, not slept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from calsync.config import Settings
from calsync.jobs import ratelimit
from calsync.jobs.ratelimit import RedisGate
from calsync.providers import gate
from calsync.sync.provider import RateLimited

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:8]}:"


@pytest.fixture(autouse=True)
def no_gate_after() -> Iterator[None]:
    yield
    gate.set_gate(None)


def make(redis_url: str, prefix: str, rates: dict[str, float], **kwargs: object) -> tuple[RedisGate, list[float]]:
    slept: list[float] = []
    return RedisGate(redis.Redis.from_url(redis_url), rates, sleep=slept.append, prefix=prefix, **kwargs), slept  # type: ignore[arg-type]


def test_a_small_burst_goes_at_once_then_each_request_waits_its_share(redis_url: str, prefix: str) -> None:
    limiter, slept = make(redis_url, prefix, {"google": 10})  # burst: 2
    for _ in range(5):
        limiter.wait("google")
    assert len(slept) == 3  # the first two went at once
    assert [round(s, 1) for s in slept] == [0.1, 0.2, 0.3]  # reserved one after another, never polled


def test_processes_on_one_redis_share_one_bucket(redis_url: str, prefix: str) -> None:
    first, first_slept = make(redis_url, prefix, {"google": 10})
    second, second_slept = make(redis_url, prefix, {"google": 10})
    first.wait("google")
    first.wait("google")
    assert first_slept == []
    second.wait("google")
    assert [round(s, 1) for s in second_slept] == [0.1]


def test_the_bucket_is_per_provider(redis_url: str, prefix: str) -> None:
    limiter, slept = make(redis_url, prefix, {"google": 10, "microsoft": 10, "caldav": 10})
    for _ in range(5):
        limiter.wait("google")
    assert len(slept) == 3
    slept.clear()
    limiter.wait("microsoft")
    limiter.wait("microsoft")
    limiter.wait("caldav")
    limiter.wait("caldav")
    assert slept == []  # Google's empty bucket slows neither Microsoft nor CalDAV


def test_a_batch_costs_its_parts(redis_url: str, prefix: str) -> None:
    limiter, slept = make(redis_url, prefix, {"google": 10})
    limiter.wait("google", cost=12)  # 2 in the bucket, 10 more at 10/s
    assert [round(s, 1) for s in slept] == [1.0]


def test_a_wait_longer_than_a_request_should_take_goes_back_to_the_scheduler(redis_url: str, prefix: str) -> None:
    limiter, slept = make(redis_url, prefix, {"google": 1}, max_wait=2.0)  # burst 1
    limiter.wait("google")
    limiter.wait("google")
    limiter.wait("google")
    assert [round(s) for s in slept] == [1, 2]
    with pytest.raises(RateLimited) as caught:
        limiter.wait("google")
    assert caught.value.retry_after == 3
    with pytest.raises(RateLimited):  # nothing was reserved by the refused one
        limiter.wait("google")
    assert caught.value.retry_after == 3


def test_retry_after_holds_back_every_process(redis_url: str, prefix: str) -> None:
    told, _ = make(redis_url, prefix, {"google": 50, "microsoft": 50})
    other, slept = make(redis_url, prefix, {"google": 50, "microsoft": 50})
    told.hold_back("google", 4.0)
    other.wait("microsoft")
    assert slept == []
    other.wait("google")
    assert len(slept) == 1 and 3.9 <= slept[0] <= 4.0


def test_a_provider_without_a_rate_is_not_limited(redis_url: str, prefix: str) -> None:
    limiter, slept = make(redis_url, prefix, {"google": 0})
    for _ in range(20):
        limiter.wait("google")
        limiter.wait("caldav")
    assert slept == []


def test_when_redis_is_gone_requests_go_on_unlimited(caplog: pytest.LogCaptureFixture) -> None:
    from tests.support.ports import free_port

    limiter = RedisGate(redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0"), {"google": 1})
    for _ in range(3):
        limiter.wait("google")
    assert "shared rate limit unavailable" in caplog.text


def test_install_sets_the_shared_gate_only_with_a_broker(redis_url: str) -> None:
    ratelimit.install(Settings(broker_url=""))
    assert isinstance(gate.current(), gate.Unlimited)
    ratelimit.install(Settings(broker_url=redis_url, provider_rate_limits="google=7,microsoft=0"))
    installed = gate.current()
    assert isinstance(installed, RedisGate)
    assert installed.rates == {"google": 7.0}
