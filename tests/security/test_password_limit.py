"""One limit on password guessing (issue point 9): wrong passwords on the built-in CalDAV server's
Basic auth and on the sign-in form count together, per account and per client address; while
locked, both refuse even the right password and say so (429, how long). Time moves through the
limiter's clock."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from calsync.config import Settings
from calsync.providers.caldav.embedded import app_password
from calsync.web.pages.login_limit import CLIENT_FACTOR
from tests.conftest import People, _settings
from tests.security.conftest import PASSWORD, Served, sign_in_http

LIMIT = 3
LOCK_SECONDS = 600


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return _settings(tmp_path, db_url, embedded_dav=True, login_max_failures=LIMIT, login_lock_seconds=LOCK_SECONDS)


@pytest.fixture
def clock(served: Served) -> list[float]:
    now = [1000.0]
    served.context.extras["login_limiter"].clock = lambda: now[0]  # the app's one limiter
    return now


def _dav(served: Served, login: str, password: str) -> httpx.Response:
    return httpx.request("PROPFIND", f"{served.url}/dav/", auth=(login, password), headers={"Depth": "0"}, timeout=30)


def test_guesses_on_dav_lock_the_account_everywhere(served: Served, people: People, clock: list[float]) -> None:
    people.add("ann@example.com")
    assert _dav(served, "ann@example.com", PASSWORD).status_code == 207
    for n in range(LIMIT):
        assert _dav(served, "ann@example.com", f"guess-{n}-wrong").status_code == 401
    locked = _dav(served, "ann@example.com", PASSWORD)
    assert locked.status_code == 429, locked.text
    assert "try again in about 10 minutes" in locked.text.lower() and int(locked.headers["retry-after"]) > 0
    with httpx.Client(base_url=served.url, timeout=30) as client:
        refused = sign_in_http(client, "ann@example.com")
        assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    # The calendar sync's own app password is no guess: it keeps working.
    assert _dav(served, "ann@example.com", app_password("test-secret-key", "ann@example.com")).status_code == 207
    clock[0] += LOCK_SECONDS
    assert _dav(served, "ann@example.com", PASSWORD).status_code == 207
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com").status_code == 303


def test_guesses_on_the_sign_in_form_lock_dav_too(served: Served, people: People, clock: list[float]) -> None:
    people.add("ann@example.com")
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for n in range(LIMIT):
            assert sign_in_http(client, "ann@example.com", f"guess-{n}-wrong").status_code == 401
    assert _dav(served, "ann@example.com", PASSWORD).status_code == 429


def test_one_address_trying_many_accounts_is_locked(served: Served, people: People, clock: list[float]) -> None:
    people.add("ann@example.com")
    for n in range(LIMIT * CLIENT_FACTOR):
        assert _dav(served, f"user{n}@example.com", "password-guess").status_code == 401
    # A fresh account, from the same address, right password: the address is locked.
    assert _dav(served, "ann@example.com", PASSWORD).status_code == 429
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com").status_code == 429
