from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync.store import migrate
from calsync.web.context import AppContext
from tests.conftest import _settings
from tests.sync.harness import Harness


@pytest.fixture(autouse=True)
def allow_local_calendar_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Radicale and Xandikos of these tests run on 127.0.0.1, which calendar connections
    refuse unless private addresses are allowed (as a self-hoster with a LAN server would)."""
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


@pytest.fixture(autouse=True)
def test_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine examples run on the in-memory provider, which real users are never offered."""
    monkeypatch.setenv("CALSYNC_TEST_PROVIDERS", "1")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test copies it (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("sync-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sync_context(tmp_path: Path, migrated_template: Path) -> Iterator[AppContext]:
    """A migrated SQLite app context (the engine examples; a few run on PostgreSQL via db_url)."""
    target = tmp_path / "sync.db"
    shutil.copyfile(migrated_template, target)
    url = f"sqlite:///{target}"
    ctx = AppContext.build(_settings(tmp_path, url))
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def h(sync_context: AppContext) -> Harness:
    harness = Harness(sync_context)
    harness.user("alice@example.com")
    return harness


@pytest.fixture
def sync_session_user(sync_context: AppContext) -> Iterator[tuple]:
    """A session and a user id, for tests that write through the CRM services and roll back."""
    from calsync.crm.services import accounts
    from calsync.store.db import session_scope

    with session_scope(sync_context.sessions) as s:
        user, _ = accounts.add_user(s, sync_context.box, email="map@example.com", password="password-123", company_name="Acme")
        user_id = user.id
    session = sync_context.sessions()
    yield session, user_id
    session.close()
