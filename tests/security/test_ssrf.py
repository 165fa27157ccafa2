"""Server-side request forgery (issue point 10): `POST /api/v1/calendar-sync/connect` makes the
server connect where the user says. Link-local and cloud-metadata addresses are refused always;
loopback and private ones unless CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS=true; the check applies to
what a host name resolves to and to every redirect; and what the target answered (socket errors,
status codes) is never repeated to the user. The built-in calendar keeps syncing."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from calsync.config import Settings
from calsync.crm.services import accounts as crm_accounts
from calsync.jobs.runner import engine_for
from calsync.providers.caldav import embedded
from calsync.store.db import session_scope
from calsync.store.tables import User
from tests.conftest import People, _settings
from tests.security.conftest import Served
from tests.support.dav_fixtures import radicale  # noqa: F401  (fixture)
from tests.support.live import serve
from tests.support.ports import free_port
from tests.support.radicale import DavServer

FLAG = "CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS"
LEAKS = ("refused", "errno", "timed out", "403", "501", "http 4", "http 5", "last answer", "connection reset")


@pytest.fixture
def private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FLAG, "true")


@pytest.fixture
def private_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FLAG, "false")


@pytest.fixture
def connect(served: Served, people: People):  # type: ignore[no-untyped-def]
    """connect(url, username, password) -> the API's answer, as an ordinary user."""
    people.add("mallory@example.com")

    def call(url: str, username: str = "alice", password: str = "alice-pass-1") -> httpx.Response:
        return httpx.post(f"{served.url}/api/v1/calendar-sync/connect", headers=people.headers("mallory@example.com"),
                          json={"provider": "caldav", "url": url, "username": username, "password": password}, timeout=60)

    return call


def _refused_quietly(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "url", body
    message = body["error"].lower()
    for word in words:
        assert word in message, message
    for leak in LEAKS:
        assert leak not in message, (leak, message)
    return message


@pytest.fixture
def answering(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """A loopback web server that answers every request with `request.param` = (status, location)."""
    status, location = request.param
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.command)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PROPFIND = do_OPTIONS = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/",
                                 "http://0.0.0.0:8080/"])
def test_link_local_and_metadata_are_refused_even_when_private_is_allowed(connect, private_allowed: None, url: str) -> None:  # type: ignore[no-untyped-def]
    _refused_quietly(connect(url), "does not connect to this address")


def test_loopback_and_private_are_refused_by_default(connect, private_refused: None, radicale: DavServer) -> None:  # type: ignore[no-untyped-def]
    port = radicale.url.rsplit(":", 1)[1].strip("/")
    _refused_quietly(connect(radicale.url), "does not connect to this address", FLAG.lower())
    _refused_quietly(connect("http://127.0.0.1:22/"), "does not connect to this address")
    _refused_quietly(connect("http://10.0.0.1:8443/"), "does not connect to this address")
    # A host name is judged by what it resolves to.
    _refused_quietly(connect(f"http://localhost:{port}/"), "does not connect to this address")


def test_private_allowed_connects_to_a_local_server(connect, private_allowed: None, radicale: DavServer) -> None:  # type: ignore[no-untyped-def]
    radicale.make_calendar("alice", f"ssrf-{free_port()}")
    answer = connect(radicale.url)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("answering", [(301, "http://169.254.169.254/latest/meta-data/")], indirect=True)
def test_every_redirect_is_checked(connect, private_allowed: None, answering: tuple[str, list[str]]) -> None:  # type: ignore[no-untyped-def]
    url, seen = answering
    _refused_quietly(connect(url), "does not connect to this address")
    assert seen  # the first hop (allowed here) was asked; the redirect target never was


@pytest.mark.parametrize("answering", [(403, None)], indirect=True)
def test_what_the_target_answered_is_not_repeated(connect, private_allowed: None, answering: tuple[str, list[str]]) -> None:  # type: ignore[no-untyped-def]
    url, _seen = answering
    _refused_quietly(connect(url), "could not reach a caldav server at this address")
    closed = f"http://127.0.0.1:{free_port()}/"
    _refused_quietly(connect(closed), "could not reach a caldav server at this address")


def test_the_built_in_calendar_syncs_without_the_setting(tmp_path: Path, db_url: str, private_refused: None) -> None:
    port = free_port()
    settings: Settings = _settings(tmp_path, db_url, embedded_dav=True, port=port, base_url=f"http://127.0.0.1:{port}")
    from calsync.web.app import create_app

    app = create_app(settings)
    context = app.state.context
    with session_scope(context.sessions) as session:
        user, _token = crm_accounts.add_user(session, context.box, email="ann@example.com", password="password-123",
                                             company_name="Acme")
        account_id = embedded.connect_demo_calendar(session, context.box, settings, session.get(User, user.id)).id
    with serve(app, port=port):
        summary = engine_for(context).run(account_id, trigger="manual")
    assert summary.status == "ok", summary
