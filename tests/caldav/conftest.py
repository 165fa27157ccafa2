"""CalDAV tests run against real Radicale and Xandikos servers started for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dav_fixtures import radicale, xandikos  # noqa: F401  (fixtures)
from tests.support.harness import DavHarness


@pytest.fixture(autouse=True)
def allow_local_calendar_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Radicale and Xandikos of these tests run on 127.0.0.1, which calendar connections
    refuse unless private addresses are allowed (as a self-hoster with a LAN server would)."""
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> Iterator[DavHarness]:
    server = request.getfixturevalue(request.param)
    h = DavHarness(server, "alice" if request.param == "radicale" else "user")
    yield h
    h.close()


@pytest.fixture
def crm_context(tmp_path):  # type: ignore[no-untyped-def]
    """A migrated SQLite app context for the end-to-end scenarios through the sync engine."""
    from calsync.store import migrate
    from calsync.web.context import AppContext
    from tests.conftest import _settings

    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    migrate.upgrade(url)
    ctx = AppContext.build(_settings(tmp_path, url))
    yield ctx
    ctx.engine.dispose()
