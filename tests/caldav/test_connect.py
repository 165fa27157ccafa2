"""Connecting a CalDAV account: discovery as clients do it, and messages that say what to fix."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from calsync.sync import registry
from calsync.sync.provider import ConnectError
from tests.support.radicale import DavServer, radicale_server

RIGHTS = """
[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[own-calendars]
user: .+
collection: {user}/[^/]+
permissions: rw

[bob-reads-alices-team-calendar]
user: bob
collection: alice/team
permissions: r
"""


@pytest.fixture(scope="module")
def shared_radicale() -> Iterator[DavServer]:
    with radicale_server(rights=RIGHTS) as server:
        server.make_calendar("alice", "work", display="Work")
        server.make_calendar("alice", "team", display="Team")
        server.make_calendar("alice", "tasks", display="Tasks", components=("VTODO",))
        server.make_calendar("bob", "own", display="Bob's")
        yield server


@pytest.fixture(scope="module")
def plain_http() -> Iterator[str]:
    """A web server that is not a CalDAV server (answers PROPFIND with 501)."""
    handler = http.server.SimpleHTTPRequestHandler
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def connect(**params: str) -> tuple[str, dict[str, str]]:
    return registry.get("caldav").connect(params)


def test_discovery_from_the_server_root_lists_event_calendars_only(shared_radicale: DavServer) -> None:
    name, credentials = connect(url=shared_radicale.url, username="alice", password="alice-pass-1")
    assert name == "alice on 127.0.0.1"
    assert credentials["home_url"].endswith("/alice/")
    provider = registry.get("caldav").open(credentials)
    try:
        calendars = {c.name: c for c in provider.list_calendars()}
    finally:
        provider.close()
    assert set(calendars) == {"Work", "Team"}  # the VTODO-only list is not offered
    assert credentials["calendar_name"] in calendars and calendars[credentials["calendar_name"]].primary


def test_calendar_chosen_by_name_or_url(shared_radicale: DavServer) -> None:
    _, by_name = connect(url=shared_radicale.url, username="alice", password="alice-pass-1", calendar="work")
    assert by_name["calendar_id"] == shared_radicale.url + "alice/work/" and by_name["calendar_name"] == "Work"
    _, by_url = connect(url=shared_radicale.url + "alice/team/", username="alice", password="alice-pass-1")
    assert by_url["calendar_name"] == "Team"


def test_unknown_calendar_name_lists_the_calendars(shared_radicale: DavServer) -> None:
    with pytest.raises(ConnectError) as error:
        connect(url=shared_radicale.url, username="alice", password="alice-pass-1", calendar="Holidays")
    assert error.value.field == "calendar"
    assert "no calendar 'Holidays'" in error.value.message and "'Work'" in error.value.message


def test_wrong_password(shared_radicale: DavServer) -> None:
    with pytest.raises(ConnectError) as error:
        connect(url=shared_radicale.url, username="alice", password="not-her-password")
    assert error.value.field == "password"
    assert "refused the user name or password" in error.value.message


def test_calendar_without_write_access_is_refused(shared_radicale: DavServer) -> None:
    with pytest.raises(ConnectError) as error:
        connect(url=shared_radicale.url, username="bob", password="bob-pass-1",
                calendar=shared_radicale.url + "alice/team/")
    assert error.value.field == "calendar"
    assert "'Team' is read-only for bob" in error.value.message
    assert "Bob's" in error.value.message  # names what can be picked instead


def test_a_url_that_is_not_a_caldav_server(plain_http: str) -> None:
    with pytest.raises(ConnectError) as error:
        connect(url=plain_http, username="alice", password="whatever-1")
    assert error.value.field == "url"
    assert "could not reach a CalDAV server at this address" in error.value.message
    assert "501" not in error.value.message  # what the target answered is not repeated


def test_nothing_listening(plain_http: str) -> None:
    with pytest.raises(ConnectError) as error:
        connect(url="http://127.0.0.1:9/", username="alice", password="whatever-1")
    assert error.value.field == "url" and "could not reach a CalDAV server" in error.value.message
    assert "refused" not in error.value.message.lower()  # no socket error words


@pytest.mark.parametrize("url", [
    "imap.example.com", "imaps://mail.example.com:993", "pop3://pop.example.com", "smtp.example.com:587",
    "alice@example.com", "https://mail.example.com:993/", "mailto:alice@example.com",
])
def test_mail_servers_and_addresses_are_not_calendars(url: str) -> None:
    with pytest.raises(ConnectError) as error:
        connect(url=url, username="alice", password="whatever-1")
    assert error.value.field == "url"
    assert error.value.message.startswith(
        "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV calendar")


@pytest.mark.parametrize("missing, field", [("url", "url"), ("username", "username"), ("password", "password")])
def test_missing_fields_are_named(missing: str, field: str) -> None:
    params = {"url": "https://dav.example.com/", "username": "alice", "password": "secret-12"}
    params[missing] = ""
    with pytest.raises(ConnectError) as error:
        connect(**params)
    assert error.value.field == field
