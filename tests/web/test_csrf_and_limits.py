"""The CSRF rule and the failed sign-in limit, checked over HTTP against Uvicorn without a browser (fast)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import httpx

from calsync.web.pages.login_limit import CLIENT_FACTOR, LoginLimiter
from tests.web.conftest import PASSWORD

BODY = {"subject": "Call", "start": "2030-01-07T10:00:00+00:00"}


@pytest.fixture
def client(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_url, timeout=30) as http_client:
        yield http_client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _sign_in(client: httpx.Client, email: str = "ann@example.com", next_path: str = "/calendar") -> str:
    token = _token(client.get("/login").text)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": next_path},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    return response.headers["location"]


def test_cookie_requests_need_the_token_api_token_requests_do_not(client: httpx.Client, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com")
    assert client.post("/api/v1/activities", json=BODY).status_code == 401  # no cookie, no token: not signed in
    _sign_in(client)
    refused = client.post("/api/v1/activities", json=BODY)
    assert refused.status_code == 403 and refused.json()["error_info"] == "csrf"
    assert client.post("/api/v1/activities", json=BODY, headers={"X-CSRF-Token": "guess"}).status_code == 403
    token = _token(client.get("/activities/new").text)
    assert client.post("/api/v1/activities", json=BODY, headers={"X-CSRF-Token": token}).status_code == 201
    # A form field works as well as the header; the form is read again by the page after the check.
    form = {"csrf_token": token, "subject": "From a form", "type": "task", "start_date": "2030-01-08", "start_time": "09:00",
            "end_date": "2030-01-08", "end_time": "09:30", "timezone": "UTC", "visibility": "everyone"}
    assert client.post("/activities/new", data=form, follow_redirects=False).status_code == 303
    # An API token needs no CSRF token, even with the session cookie present.
    headers = {**people.headers("ann@example.com")}
    assert client.post("/api/v1/activities", json=BODY, headers=headers).status_code == 201
    # A page is never exempt, whatever token the request names (the page reads the session).
    forged = client.post("/activities/new?api_token=anything", data={"subject": "Forged", "start_date": "2030-01-07"},
                         headers={"X-Api-Token": "anything"}, follow_redirects=False)
    assert forged.status_code == 403
    # GETs are never blocked.
    assert client.get("/api/v1/activities").status_code == 200


def test_sign_in_form_has_its_own_token_and_no_open_redirect(client: httpx.Client, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com")
    no_token = client.post("/login", data={"email": "ann@example.com", "password": PASSWORD}, follow_redirects=False)
    assert no_token.status_code == 403 and "expired" in no_token.text
    assert _sign_in(client, next_path="//evil.example/") == "/calendar"
    client.cookies.clear()
    assert _sign_in(client, next_path="/activities?owner=everyone") == "/activities?owner=everyone"


def test_limiter_locks_an_address_then_frees_it() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=3, lock_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.seconds_locked("email:a", "client:x") == 0
        limiter.failed("email:a", "client:x")
    assert limiter.seconds_locked("email:a", "client:x") == 60
    assert limiter.seconds_locked("email:b", "client:x") == 0  # the shared address is not locked yet
    now[0] = 59.5
    assert limiter.seconds_locked("email:a") == 1
    now[0] = 60.0
    assert limiter.seconds_locked("email:a", "client:x") == 0


def test_limiter_locks_a_client_address_after_many_accounts() -> None:
    limiter = LoginLimiter(max_failures=2, lock_seconds=60, clock=lambda: 0.0)
    for n in range(2 * CLIENT_FACTOR):
        limiter.failed(f"email:user{n}", "client:x")
    assert limiter.seconds_locked("email:fresh", "client:x") == 60
    limiter.succeeded("email:user0")
    assert limiter.seconds_locked("email:user0", "client:y") == 0
