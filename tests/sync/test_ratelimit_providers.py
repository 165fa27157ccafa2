"""The shared rate limit and Retry-After through the providers' own HTTP layers, on the Google and
Graph emulators and a real Radicale, with a real Redis: two worker processes together keep to one
limit; Google's limit slows neither Microsoft nor CalDAV; a Google 429's Retry-After holds back
another worker process; Retry-After is honoured inside a Google batch and in HTTP-date form."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

import calsync
from calsync.jobs.ratelimit import PREFIX, RedisGate, burst_for
from calsync.providers import gate, retryafter
from calsync.providers.caldav.http import DavClient
from calsync.providers.google.http import GoogleHttp, path
from calsync.providers.microsoft.http import GraphHttp
from calsync.sync.model import Event
from calsync.sync.provider import ProviderError, RateLimited, Write
from tests.support.dav_fixtures import radicale  # noqa: F401  (fixture)
from tests.support.dav_proxy import Reply, Request, dav_proxy
from tests.support.gate_load import StaticToken
from tests.support.google_emulator import USERS, GoogleEmulator, google_emulator
from tests.support.microsoft_emulator import MicrosoftEmulator, microsoft_emulator
from tests.support.radicale import DavServer

pytestmark = pytest.mark.redis
UTC = dt.timezone.utc
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def google() -> Iterator[GoogleEmulator]:
    with google_emulator() as emulator:
        emulator.post("/quota", {"per_user_per_minute": 10**6, "per_project_per_minute": 10**6})  # ours, not its
        yield emulator


@pytest.fixture(scope="module")
def microsoft() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh_buckets(redis_url: str) -> Iterator[None]:
    """Each test starts with full buckets and no gate; the gate is taken away again afterwards."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(PREFIX + "*"):
        client.delete(key)
    yield
    gate.set_gate(None)


class Worker:
    """`python -m tests.support.gate_load`: a separate process sending Google reads through GoogleHttp."""

    def __init__(self, google: GoogleEmulator, redis_url: str | None, rates: str, seconds: float) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(calsync.__file__).parents[1]), str(ROOT)])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.gate_load", google.base, google.token(USERS[0]),
             redis_url or "-", rates, str(seconds)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdin is not None
        assert self.process.stdout.readline().strip() == "ready"

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def sent(self) -> list[float]:
        out, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0
        return [float(t) for t in json.loads(out.strip().splitlines()[-1])]


def run_workers(google: GoogleEmulator, redis_url: str | None, rates: str, seconds: float) -> list[list[float]]:
    workers = [Worker(google, redis_url, rates, seconds) for _ in range(2)]
    for worker in workers:
        worker.go()
    return [worker.sent() for worker in workers]


def densest(times: list[float], width: float) -> int:
    """The most requests let go within any `width` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > width:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_two_worker_processes_together_keep_to_one_google_limit(google: GoogleEmulator, redis_url: str) -> None:
    rate, seconds = 20.0, 3.0
    burst = burst_for(rate)
    mark = len(google.requests())
    first, second = run_workers(google, redis_url, "google=20,microsoft=50,caldav=50", seconds)
    both = sorted(first + second)
    span = both[-1] - both[0]
    # Let go at most rate·span + burst, and in any second rate + burst; `slack`: one request, and
    # 0.1 s of the machine's scheduling between the bucket's answer and the request leaving.
    slack = 1 + rate * 0.1
    assert len(both) <= rate * span + burst + slack, (len(both), span)
    assert densest(both, 1.0) <= rate + burst + slack
    assert len(first) >= 15 and len(second) >= 15  # both worked the whole time, sharing the bucket
    assert len(google.requests(mark)) == len(both)  # every one of them reached Google
    print(f"\nshared limit {rate:g}/s: {len(first)} + {len(second)} requests in {span:.2f} s")

    unlimited = sum(run_workers(google, None, "", seconds), [])
    print(f"no limit: {len(unlimited)} requests in {seconds:g} s")
    assert len(unlimited) > 3 * (rate * seconds + burst)  # the limit is what held them back


def test_googles_limit_slows_neither_microsoft_nor_caldav(google: GoogleEmulator, microsoft: MicrosoftEmulator,
                                                          radicale: DavServer, redis_url: str) -> None:  # noqa: F811
    slept: list[float] = []
    gate.set_gate(RedisGate(redis.Redis.from_url(redis_url), {"google": 5, "microsoft": 5, "caldav": 5},
                            sleep=slept.append))  # a burst of 1 each
    google_http = GoogleHttp(google.base, StaticToken(google.token(USERS[0])))  # type: ignore[arg-type]
    for _ in range(4):
        assert google_http.send("GET", path("users", "me", "calendarList")).status_code == 200
    assert len(slept) == 3 and all(s > 0.1 for s in slept)  # Google's requests waited their turn
    slept.clear()
    graph = GraphHttp(microsoft.base, StaticToken(microsoft.token()))  # type: ignore[arg-type]
    assert graph.send("GET", "/v1.0/me/calendars").status_code == 200
    user, password = next(iter(radicale.users.items()))
    calendar = radicale.make_calendar(user, f"r{uuid.uuid4().hex[:6]}")
    dav = DavClient(calendar, user, password)
    assert dav.propfind(calendar, "D:displayname").responses
    assert slept == []  # neither waited behind Google's empty bucket
    for client in (google_http, graph, dav):
        client.close()


def test_a_google_429_with_retry_after_holds_back_another_worker_process(google: GoogleEmulator,
                                                                         redis_url: str) -> None:
    # Another worker process, on the same Redis, ready to send as soon as it is told.
    other = Worker(google, redis_url, "google=50", 0.3)
    gate.set_gate(RedisGate(redis.Redis.from_url(redis_url), {"google": 50}))
    told = GoogleHttp(google.base, StaticToken(google.token(USERS[1])))  # type: ignore[arg-type]
    google.post("/faults", {"status": 429, "count": 1, "retry_after": 2, "path": "calendarList"})
    answered: list[float] = []
    told.client.event_hooks["response"].append(lambda response: answered.append(time.time()))

    def meanwhile(seconds: float) -> None:  # this worker's own back-off: the other one starts now
        other.go()
        time.sleep(seconds)

    told.sleep = meanwhile
    mark = len(google.requests())
    assert told.send("GET", path("users", "me", "calendarList")).status_code == 200
    sent = other.sent()
    assert [r["status"] for r in google.requests(mark)][0] == 429
    assert sent and min(sent) - answered[0] >= 1.99  # the other process waited out Retry-After: 2 too
    told.close()


def test_google_batch_parts_wait_their_retry_after(google: GoogleEmulator) -> None:
    google.add_calendar(USERS[0], f"b-{uuid.uuid4().hex[:6]}")
    provider = google.open(google.connect(USERS[0]))
    calendar = USERS[0]
    waits: list[float] = []
    provider.http.sleep = waits.append
    google.post("/faults", {"status": 429, "count": 2, "methods": ["POST"], "path": "/events$", "retry_after": 4})
    start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=2)
    writes = [Write("create", Event(calendar_id=calendar, activity_uuid=str(uuid.uuid4()), summary=f"n{n}",
                                    start=start, end=start + dt.timedelta(hours=1), timezone="UTC"))
              for n in range(3)]
    outcomes = provider.write_many(writes)
    assert [o.error for o in outcomes] == [None] * 3
    assert waits == [4.0]  # the throttled parts went again after their Retry-After, not a shorter back-off
    provider.close()


def test_a_lasting_google_batch_429_tells_the_scheduler_its_retry_after(google: GoogleEmulator) -> None:
    provider = google.open(google.connect(USERS[0]))
    provider.http.sleep = lambda seconds: None
    google.post("/faults", {"status": 429, "count": 3, "methods": ["POST"], "path": "/events$", "retry_after": 90})
    start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=3)
    [outcome] = provider.write_many([Write("create", Event(
        calendar_id=USERS[0], activity_uuid=str(uuid.uuid4()), summary="late", start=start,
        end=start + dt.timedelta(hours=1), timezone="UTC"))])
    assert isinstance(outcome.error, RateLimited) and outcome.error.retry_after == 90
    provider.close()


def answering(status: int, retry_after: str) -> Callable[[Request, Callable[[], Reply]], Reply]:
    def filter(request: Request, forward: Callable[[], Reply]) -> Reply:
        return Reply(status, b"slow down", {"Retry-After": retry_after})
    return filter


@pytest.mark.parametrize("status,error", [(503, ProviderError), (429, RateLimited)])
def test_a_caldav_retry_after_given_as_a_date_reaches_the_scheduler(radicale: DavServer, status: int,  # noqa: F811
                                                                    error: type[ProviderError]) -> None:
    when = email.utils.format_datetime(dt.datetime.now(UTC) + dt.timedelta(seconds=120), usegmt=True)
    user, password = next(iter(radicale.users.items()))
    with dav_proxy(radicale.url, answering(status, when)) as proxy:
        client = DavClient(proxy.url, user, password)
        with pytest.raises(error) as caught:
            client.propfind(proxy.url + user + "/", "D:displayname")
        client.close()
    assert caught.value.retry_after is not None and 115 <= caught.value.retry_after <= 120


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert retryafter.seconds("7") == 7.0
    assert retryafter.seconds("Tue, 01 Dec 2026 06:01:30 GMT", lambda: now) == 90.0
    assert retryafter.seconds("Tue, 01 Dec 2026 05:00:00 GMT", lambda: now) == 0.0  # past: at once
    assert retryafter.seconds("soon") is None and retryafter.seconds(None) is None
    assert retryafter.from_headers({"retry-after": "3"}) == 3.0


@pytest.mark.parametrize("status", [429, 503])
def test_graph_retries_a_single_request_after_its_retry_after(microsoft: MicrosoftEmulator, status: int) -> None:
    graph = GraphHttp(microsoft.base, StaticToken(microsoft.token()))  # type: ignore[arg-type]
    waits: list[float] = []
    graph.sleep = waits.append
    microsoft.post("/faults", {"status": status, "count": 2, "methods": ["GET"], "path": "/me/calendars$",
                               "retry_after": 3})
    mark = len(microsoft.requests())
    assert graph.send("GET", "/v1.0/me/calendars").status_code == 200
    assert [r["status"] for r in microsoft.requests(mark)] == [status, status, 200]
    assert waits == [3.0, 3.0]
    microsoft.post("/faults", {"status": status, "count": 5, "methods": ["GET"], "path": "/me/calendars$",
                               "retry_after": 45})
    with pytest.raises(ProviderError) as caught:  # longer than a request should wait: to the scheduler
        graph.send("GET", "/v1.0/me/calendars")
    assert caught.value.retry_after == 45 and waits == [3.0, 3.0]
    microsoft.control.delete("/faults")
    graph.close()
