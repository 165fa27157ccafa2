"""The provider contract suite runs every test on each provider: in-memory, CalDAV on Radicale,
CalDAV on Xandikos, Google Calendar and Microsoft Graph on their emulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dav_fixtures import radicale, xandikos  # noqa: F401  (fixtures)
from tests.support.google_emulator import GoogleEmulator, google_emulator
from tests.support.harness import Harness, make_harness
from tests.support.microsoft_emulator import MicrosoftEmulator, microsoft_emulator


@pytest.fixture(autouse=True)
def allow_local_calendar_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Radicale and Xandikos of these tests run on 127.0.0.1, which calendar connections
    refuse unless private addresses are allowed (as a self-hoster with a LAN server would)."""
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


@pytest.fixture(scope="session")
def google() -> Iterator[GoogleEmulator]:
    """One emulator for the session; each harness works in a calendar of its own."""
    with google_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def microsoft() -> Iterator[MicrosoftEmulator]:
    """One Graph emulator for the session; each harness works in a calendar of its own."""
    with microsoft_emulator() as emulator:
        yield emulator


@pytest.fixture(params=["memory", "radicale", "xandikos", "google", "microsoft"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    servers = {}
    if request.param != "memory":
        servers[request.param] = request.getfixturevalue(request.param)
    h = make_harness(request.param, servers)
    yield h
    h.close()
