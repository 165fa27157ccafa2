"""Browser tests: Debian's Chromium driven by Playwright against the app served by Uvicorn.

One browser per session (starting Chromium is the slow part); a fresh context (cookies,
storage) and a fresh SQLite database and server per test. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from calsync.store import migrate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "password-123"  # what tests/conftest.py People.add gives every user


@pytest.fixture(autouse=True)
def allow_local_calendar_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Radicale and Xandikos of these tests run on 127.0.0.1, which calendar connections
    refuse unless private addresses are allowed (as a self-hoster with a LAN server would)."""
    monkeypatch.setenv("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Browser tests run on SQLite only: the pages do not touch SQL themselves."""
    url = f"sqlite:///{tmp_path / 'calsync.db'}"
    migrate.upgrade(url)
    return url


# `browser` (one Chromium for the whole run) is in tests/conftest.py: Playwright's sync API allows
# one instance per process, so every folder that drives Chromium shares it.


@pytest.fixture
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-GB")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/calendar*")


def shoot(page: Page, name: str, *, full_page: bool = True, docs: bool = False) -> Path:
    """Saves a screenshot in test-artifacts/; the ones marked `docs` also go to docs/screenshots/
    when CALSYNC_DOCS_SCREENSHOTS=1 (how the pictures in README and docs/web.md are refreshed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # A sticky header would be drawn mid-page in a full-page shot, a toast over the content.
    page.evaluate("window.scrollTo(0, 0); const t = document.getElementById('toast'); if (t) t.hidden = true;")
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("CALSYNC_DOCS_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SHOTS / path.name)
    return path
