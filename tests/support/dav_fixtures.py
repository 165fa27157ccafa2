"""Session-wide Radicale and Xandikos servers, imported by the conftest of each test folder that
needs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.radicale import DavServer, radicale_server
from tests.support.xandikos import xandikos_server


@pytest.fixture(scope="session")
def radicale() -> Iterator[DavServer]:
    with radicale_server() as server:
        yield server


@pytest.fixture(scope="session")
def xandikos() -> Iterator[DavServer]:
    with xandikos_server() as server:
        yield server
