"""`calsync user add/token` and `calsync demo` from the command line, on a temporary var dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import get_settings
from calsync.store.db import make_engine
from calsync.store.tables import Activity, ActivityType, Company, Deal, Organization, Person, User

TOKEN = re.compile(r"\b[0-9a-f]{40}\b")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Runs the CLI with CALSYNC_* pointing at a fresh var dir (settings re-read per test)."""
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CALSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CALSYNC_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    yield runner
    get_settings.cache_clear()


def _run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_user_add_and_token(cli: CliRunner, tmp_path: Path) -> None:
    out = _run(cli, "user", "add", "Ann@Acme.test", "--password", "secret-123", "--company", "Acme", "--admin",
               "--timezone", "Europe/Berlin")
    assert "added ann@acme.test" in out and "admin" in out
    token = TOKEN.search(out).group(0)  # type: ignore[union-attr]
    assert _run(cli, "user", "token", "ann@acme.test").strip() == token
    rotated = _run(cli, "user", "token", "ann@acme.test", "--rotate").strip()
    assert TOKEN.fullmatch(rotated) and rotated != token
    assert _run(cli, "user", "token", "ANN@acme.test").strip() == rotated
    assert "exists already" in _run(cli, "user", "add", "ann@acme.test", "--password", "secret-123", code=1)
    assert "8 characters" in _run(cli, "user", "add", "bob@acme.test", "--password", "short", code=1)
    assert "time zone" in _run(cli, "user", "add", "bob@acme.test", "--password", "secret-123",
                               "--timezone", "Moon/Base", code=1)
    assert "no user" in _run(cli, "user", "token", "nobody@acme.test", code=1)
    # The secret key was generated in the var dir; tokens are stored encrypted, not in clear.
    assert (tmp_path / "var" / "secret_key").exists()
    assert token.encode() not in (tmp_path / "var" / "calsync.db").read_bytes()


def _counts(db: Path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        counts = {model.__tablename__: connection.scalar(select(func.count()).select_from(model))
                  for model in (Company, User, ActivityType, Deal, Person, Organization, Activity)}
        counts["private"] = connection.scalar(select(func.count()).where(Activity.private.is_(True)))
        counts["all_day"] = connection.scalar(select(func.count()).where(Activity.all_day.is_(True)))
        counts["done"] = connection.scalar(select(func.count()).where(Activity.done.is_(True)))
        counts["owner_only_deals"] = connection.scalar(select(func.count()).where(Deal.visibility == "owner"))
    engine.dispose()
    return counts  # type: ignore[return-value]


def test_demo_seeds_once_and_always_prints_logins(cli: CliRunner, tmp_path: Path) -> None:
    first = _run(cli, "demo")
    counts = _counts(tmp_path / "var" / "calsync.db")
    assert counts["companies"] == 1 and counts["users"] == 3
    assert 200 <= counts["activities"] <= 600
    assert counts["private"] > 0 and counts["all_day"] > 0 and counts["done"] > 0
    assert counts["activity_types"] == 8 and counts["owner_only_deals"] > 0
    for email in ("alice@example.com", "bob@example.com", "carol@example.com"):
        assert email in first
    assert "calsync-demo" in first and "admin" in first
    tokens = TOKEN.findall(first)
    assert len(tokens) == 3

    second = _run(cli, "demo")
    assert "left as it is" in second
    assert _counts(tmp_path / "var" / "calsync.db") == counts
    assert TOKEN.findall(second) == tokens
    # The printed tokens work for the users they belong to.
    assert _run(cli, "user", "token", "bob@example.com").strip() == tokens[1]
    # Demo users sign in with the demo password.
    from calsync.crm.services.accounts import authenticate
    from calsync.store.db import make_session_factory

    factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'var' / 'calsync.db'}"))
    with factory() as session:
        assert authenticate(session, "carol@example.com", "calsync-demo").email == "carol@example.com"
