"""The provider contract suite runs every test on each provider: in-memory, CalDAV on Radicale,
CalDAV on Xandikos."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dav_fixtures import radicale, xandikos  # noqa: F401  (fixtures)
from tests.support.harness import Harness, make_harness


@pytest.fixture(params=["memory", "radicale", "xandikos"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    servers = {}
    if request.param != "memory":
        servers[request.param] = request.getfixturevalue(request.param)
    h = make_harness(request.param, servers)
    yield h
    h.close()
