"""CalDAV tests run against real Radicale and Xandikos servers started for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dav_fixtures import radicale, xandikos  # noqa: F401  (fixtures)
from tests.support.harness import DavHarness


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> Iterator[DavHarness]:
    server = request.getfixturevalue(request.param)
    h = DavHarness(server, "alice" if request.param == "radicale" else "user")
    yield h
    h.close()
