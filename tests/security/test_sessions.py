"""Sessions end for real (issue point 6): a saved copy of the session cookie stops working after
sign-out, after a password change and after the user is deactivated, and a session idle for longer
than `session_idle_seconds` is over. Time is moved through the app's clock, never waited for."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from calsync.crm.services import accounts
from calsync.store.db import session_scope
from calsync.store.tables import User
from tests.conftest import People
from tests.security.conftest import Served, csrf_token_of, sign_in_http

COOKIE = "calsync_session"


@pytest.fixture
def ann(people: People) -> int:
    return people.add("ann@example.com")


def _signed_in_cookie(served: Served) -> str:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com").status_code == 303
        cookie = client.cookies.get(COOKIE)
        assert cookie
        return cookie


def _works(served: Served, cookie: str) -> bool:
    """Does this cookie still sign its bearer in (API and pages)?"""
    with httpx.Client(base_url=served.url, timeout=30, cookies={COOKIE: cookie}) as client:
        api = client.get("/api/v1/users/me")
        page = client.get("/calendar", follow_redirects=False)
    assert (api.status_code == 200) == (page.status_code == 200), (api.status_code, page.status_code)
    return api.status_code == 200


def test_a_saved_cookie_is_dead_after_sign_out(served: Served, ann: int) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com").status_code == 303
        saved = client.cookies.get(COOKIE)
        assert saved and _works(served, saved)
        token = csrf_token_of(client.get("/calendar").text)
        assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert not _works(served, saved)
    with httpx.Client(base_url=served.url, timeout=30, cookies={COOKIE: saved}) as client:
        assert client.get("/calendar", follow_redirects=False).headers["location"].startswith("/login")


def test_a_password_change_ends_every_session(served: Served, ann: int) -> None:
    first, second = _signed_in_cookie(served), _signed_in_cookie(served)
    assert _works(served, first) and _works(served, second)
    with session_scope(served.context.sessions) as session:
        accounts.set_password(session, session.get(User, ann), "a-new-password-456")  # as `calsync user password`
    assert not _works(served, first) and not _works(served, second)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com", "a-new-password-456").status_code == 303


def test_a_deactivated_user_is_signed_out(served: Served, ann: int) -> None:
    cookie = _signed_in_cookie(served)
    with session_scope(served.context.sessions) as session:
        accounts.deactivate_user(session, session.get(User, ann))
    assert not _works(served, cookie)


def test_an_idle_session_expires_an_active_one_does_not(served: Served, ann: int) -> None:
    now = [dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.timezone.utc)]
    served.context.clock = lambda: now[0]
    idle = dt.timedelta(seconds=served.context.settings.session_idle_seconds)
    busy, idler = _signed_in_cookie(served), _signed_in_cookie(served)
    for _ in range(3):  # three steps of most of the idle time: the busy one is used in between
        now[0] += idle - dt.timedelta(minutes=5)
        assert _works(served, busy)
    assert not _works(served, idler)
    now[0] += idle
    assert not _works(served, busy)
