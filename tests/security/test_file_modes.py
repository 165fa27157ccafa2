"""Files readable by calsync's user alone (issue point 11): the var folder is 0700 and every data
file in it 0600 (the database and its WAL, the secret key, the built-in calendar's folders and .ics
files); what an older version left world-readable is fixed at start, and what is written while
serving is private from the start (umask 077)."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from calsync.crm.services import accounts as crm_accounts
from calsync.providers.caldav import embedded
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.store.tables import User
from tests.conftest import _settings
from tests.support.live import serve
from tests.support.ports import free_port

PASSWORD = "password-123"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask a shell usually has (022), as when `calsync serve` is started by hand."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_folder_and_data_files_are_private(tmp_path: Path, loose_umask: None) -> None:
    var = tmp_path / "var"
    port = free_port()
    settings = _settings(tmp_path, "", var_dir=var, secret_key="", embedded_dav=True, port=port,
                         base_url=f"http://127.0.0.1:{port}")
    # What an older version left behind: everything world-readable.
    migrate.upgrade(settings.resolved_database_url())
    settings.resolved_secret_key()
    from calsync.web.context import AppContext

    seeding = AppContext.build(settings)
    with session_scope(seeding.sessions) as session:
        user, _token = crm_accounts.add_user(session, seeding.box, email="ann@example.com", password=PASSWORD,
                                             company_name="Acme")
        embedded.connect_demo_calendar(session, seeding.box, settings, session.get(User, user.id))
    seeding.engine.dispose()
    old_event = next((var / "dav").rglob("*")).parent / "old.ics"
    old_event.write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    for path in [var, *var.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    from calsync.web.app import create_app

    with serve(create_app(settings), port=port) as url:
        uid = uuid.uuid4().hex
        ics = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
               "DTSTAMP:20300101T000000Z\r\nDTSTART:20300107T100000Z\r\nDTEND:20300107T110000Z\r\n"
               "SUMMARY:Doctor (private)\r\nCLASS:PRIVATE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        put = httpx.put(f"{url}/dav/ann%40example.com/calendar/{uid}.ics", content=ics.encode(),
                        auth=("ann@example.com", PASSWORD), headers={"Content-Type": "text/calendar"}, timeout=30)
        assert put.status_code in (201, 204), put.text
        with httpx.Client(base_url=url, timeout=30) as client:  # a write through the database
            assert client.get("/login").status_code == 200

    assert _mode(var) == 0o700
    written = [p for p in var.rglob(f"{uid}.ics")]
    assert written, "the event was not stored under the var folder"
    loose = {str(p.relative_to(var)): oct(_mode(p)) for p in [var, *var.rglob("*")]
             if not p.is_symlink() and _mode(p) & 0o077}
    assert not loose, loose
    assert _mode(var / "calsync.db") == 0o600 and _mode(var / "secret_key") == 0o600
    assert _mode(old_event) == 0o600 and all(_mode(p) == 0o600 for p in written)
