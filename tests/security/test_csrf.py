"""Forged requests (issue point 5): only a request authenticated by a valid API token skips the
CSRF check; a blank `?api_token=` is no token, so a cookie request that carries one needs the
CSRF token like any other. Checked over HTTP and in Chromium from a page on another port."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from calsync.store.db import session_scope
from calsync.store.tables import SyncAccount, User
from calsync.sync import accounts as sync_accounts
from tests.conftest import People
from tests.security.conftest import Served, csrf_token_of, sign_in_http
from tests.support.ports import free_port
from tests.web.conftest import sign_in


@pytest.fixture
def ann_syncing(served: Served, people: People, monkeypatch: pytest.MonkeyPatch) -> int:
    """ann, with a calendar connected and sync running; returns her account id."""
    monkeypatch.setenv("CALSYNC_TEST_PROVIDERS", "1")
    people.add("ann@example.com")
    with session_scope(served.context.sessions) as session:
        ann = session.get(User, people.ids["ann@example.com"])
        account = sync_accounts.connect(session, served.context.box, ann, "memory", {"account": "ann"})
        assert account.enabled
        return account.id


def _enabled(served: Served, account_id: int) -> bool:
    with session_scope(served.context.sessions) as session:
        account = session.get(SyncAccount, account_id)
        assert account is not None
        return account.enabled


def test_blank_api_token_does_not_skip_the_csrf_check(served: Served, ann_syncing: int) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com").status_code == 303
        for forged in ("/api/v1/calendar-sync/stop?api_token=", "/api/v1/calendar-sync/stop?api_token=%20",
                       "/api/v1/calendar-sync/stop?not_api_token=x"):
            refused = client.post(forged)
            assert refused.status_code == 403, (forged, refused.text)
            assert refused.json()["error_info"] == "csrf"
        blank_header = client.post("/api/v1/calendar-sync/stop", headers={"X-Api-Token": ""})
        assert blank_header.status_code == 403
        assert _enabled(served, ann_syncing)
        # A wrong token is judged as a token: refused, never falls back to the cookie.
        assert client.post("/api/v1/calendar-sync/stop?api_token=wrong").status_code == 401
        assert _enabled(served, ann_syncing)
        # With the page's CSRF token the same cookie request works.
        token = csrf_token_of(client.get("/settings/calendar-sync").text)
        stopped = client.post("/api/v1/calendar-sync/stop", headers={"X-CSRF-Token": token})
        assert stopped.status_code == 200 and stopped.json()["data"]["enabled"] is False


@pytest.fixture
def other_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A page server on another port of the same host (same site for the browser: ports do not count)."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", pages
    finally:
        server.shutdown()
        server.server_close()


def test_page_on_another_port_cannot_stop_the_sync(page: Page, served: Served, ann_syncing: int,
                                                   other_site: tuple[str, dict[str, str]]) -> None:
    evil, pages = other_site
    pages["/prize"] = (
        "<!doctype html><title>You won</title>"
        f'<form id="f" method="post" action="{served.url}/api/v1/calendar-sync/stop?api_token="></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    sign_in(page, served.url, "ann@example.com")
    with page.expect_response(lambda r: "/api/v1/calendar-sync/stop" in r.url) as answer:
        page.goto(evil + "/prize")
    # The attack premise: the browser does send the session cookie along (same site).
    assert "calsync_session=" in (answer.value.request.all_headers().get("cookie") or "")
    assert answer.value.status == 403, answer.value.text()
    assert _enabled(served, ann_syncing), "a page on another port stopped the user's sync"
