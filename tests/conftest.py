"""Shared fixtures: databases (SQLite and a real PostgreSQL), a migrated app context, users,
and the app served by Uvicorn on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync.config import Settings
from calsync.crm.services import accounts
from calsync.store import migrate
from calsync.store.db import session_scope
from calsync.web.context import AppContext
from tests.support.postgres import create_database, postgres_server
from tests.support.redis import redis_server

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis server for the session; tests that share it use their own key prefixes or flush it."""
    with redis_server() as url:
        yield url


def _settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        var_dir=tmp_path / "var", database_url=url, secret_key="test-secret-key",
        embedded_dav=False, runner="none",
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: SQLite in a temp dir, or a new database on the real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'calsync.db'}"
    else:
        admin = request.getfixturevalue("postgres_admin_url")
        url = create_database(admin, f"t{os.getpid()}_{next(_db_counter)}")
    migrate.upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'calsync.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return _settings(tmp_path, db_url)


@pytest.fixture
def context(settings: Settings) -> Iterator[AppContext]:
    ctx = AppContext.build(settings)
    yield ctx
    ctx.engine.dispose()


class People:
    """Creates users in companies and remembers their API tokens."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, int] = {}

    def add(self, email: str, *, company: str = "Acme", admin: bool = False, timezone: str = "UTC") -> int:
        with session_scope(self.context.sessions) as session:
            user, token = accounts.add_user(
                session, self.context.box, email=email, password="password-123", company_name=company,
                is_admin=admin, timezone=timezone,
            )
            self.tokens[email] = token
            self.ids[email] = user.id
            return user.id

    def headers(self, email: str) -> dict[str, str]:
        return {"X-Api-Token": self.tokens[email]}


@pytest.fixture
def people(context: AppContext) -> People:
    return People(context)


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    """The whole app served by Uvicorn on a free loopback port."""
    from calsync.web.app import create_app
    from tests.support.live import serve

    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
def api(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright, one for the whole run (tests/web, tests/security):
    Playwright's sync API allows only one instance per process."""
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
