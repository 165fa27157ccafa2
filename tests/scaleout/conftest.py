"""Scale-out tests: a real PostgreSQL database and a Redis database of their own per test, a real
Radicale, and `calsync worker` / `calsync scheduler` subprocesses (tests/support/scaleout.py)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from calsync.config import Settings
from calsync.store import migrate
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.support.postgres import create_database
from tests.support.radicale import DavServer, radicale_server
from tests.support.scaleout import ScaleOut

_databases = itertools.count()
_redis_dbs = itertools.cycle(range(1, 16))
USERS = {f"u{i}": f"u{i}-pass-1" for i in range(1, 9)}


@pytest.fixture(autouse=True)
def allow_local_calendar_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


@pytest.fixture
def pg_url(postgres_admin_url: str) -> str:
    url = create_database(postgres_admin_url, f"scale{os.getpid()}_{next(_databases)}")
    migrate.upgrade(url)
    return url


@pytest.fixture
def broker(redis_url: str) -> str:
    """A Redis database of this test's own (emptied), as the broker and the shared queue."""
    url = redis_url.rsplit("/", 1)[0] + f"/{next(_redis_dbs)}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def scaled_settings(tmp_path: Path, pg_url: str, broker: str) -> Settings:
    return _settings(tmp_path, pg_url, broker_url=broker, allow_private_calendar_hosts=True)


@pytest.fixture
def scaled_context(scaled_settings: Settings) -> Iterator[AppContext]:
    context = AppContext.build(scaled_settings)
    yield context
    context.engine.dispose()


@pytest.fixture(scope="module")
def dav() -> Iterator[DavServer]:
    with radicale_server(USERS) as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, broker: str) -> Iterator[ScaleOut]:
    with ScaleOut(pg_url, broker, env={"CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS": "true"},
                  log_dir=tmp_path / "scaleout") as scale:
        yield scale
