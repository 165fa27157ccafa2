"""The security suite: attacks tried over HTTP against the app served by Uvicorn, on SQLite and
PostgreSQL (the `db_url`, `live_url`, `api` and `people` fixtures of tests/conftest.py), with a
real Radicale where a calendar is involved, and Chromium (tests/web's fixtures) where a browser
is the attacker's tool. `served` gives a test the app object too, so it can move the app's clock."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calsync.config import Settings
from calsync.web.context import AppContext
from tests.api.conftest import Client, as_user, ok  # noqa: F401  (the `as_user` fixture)
from tests.support.dav_fixtures import radicale  # noqa: F401  (fixture)
from tests.support.radicale import DavServer
from tests.web.conftest import PASSWORD, browser_context, page  # noqa: F401  (fixtures; `browser` is in tests/conftest.py)

SYNC = "/api/v1/calendar-sync"


@pytest.fixture(autouse=True)
def local_calendar_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test calendar servers listen on 127.0.0.1, which self-hosters allow explicitly.
    (The SSRF tests turn it off again where they check the default.)"""
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


@dataclass
class Served:
    url: str
    app: FastAPI

    @property
    def context(self) -> AppContext:
        return self.app.state.context


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    """The whole app under Uvicorn on a free loopback port, with the app object at hand."""
    from calsync.web.app import create_app
    from tests.support.live import serve

    app = create_app(settings)
    with serve(app) as url:
        yield Served(url, app)


@pytest.fixture
def live_url(served: Served) -> str:
    return served.url


def csrf_token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in_http(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Signs in through the real sign-in form; returns the answer to the POST."""
    token = csrf_token_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/calendar"},
                       follow_redirects=False)


@dataclass
class DavCalendar:
    """One calendar on the Radicale a user connected, read as another calendar client would."""

    server: DavServer
    user: str
    url: str

    def text(self) -> str:
        """Every event of the calendar, unfolded (one logical line per property)."""
        answer = self.server.get(self.user, self.url)
        assert answer.status_code == 200, answer.text
        return answer.text.replace("\r\n ", "").replace("\n ", "").replace("\\n", "\n").replace("\\,", ",")


def connect_calendar(client: Client, server: DavServer, dav_user: str, **settings: Any) -> DavCalendar:
    """Connects the client's user to a new calendar of `dav_user` on Radicale, with `settings`."""
    name = f"cal-{uuid.uuid4().hex[:10]}"
    url = server.make_calendar(dav_user, name, display=name)
    body = {"provider": "caldav", "url": server.url, "username": dav_user,
            "password": server.users[dav_user], "calendar": name}
    ok(client.post(f"{SYNC}/connect", body), 201)
    if settings:
        ok(client.patch(SYNC, settings))
    return DavCalendar(server, dav_user, url)


def sync_now(client: Client) -> dict[str, Any]:
    """Runs the user's sync and waits for it; the run must end well."""
    run = client.api.post(f"{SYNC}/sync", params={"wait": "true"}, headers=client.headers)
    data = ok(run)
    assert data["status"] == "ok", data
    return data


def ids(response: httpx.Response) -> list[int]:
    return [a["id"] for a in ok(response)]
