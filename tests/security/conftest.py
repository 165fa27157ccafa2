"""The security suite: attacks tried over HTTP against the app served by Uvicorn, on SQLite and
PostgreSQL (the `db_url`, `live_url`, `api` and `people` fixtures of tests/conftest.py), with a
real Radicale where a calendar is involved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.conftest import Client, as_user, ok  # noqa: F401  (the `as_user` fixture)
from tests.support.dav_fixtures import radicale  # noqa: F401  (fixture)
from tests.support.radicale import DavServer

SYNC = "/api/v1/calendar-sync"


@pytest.fixture(autouse=True)
def local_calendar_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test calendar servers listen on 127.0.0.1, which self-hosters allow explicitly."""
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


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
