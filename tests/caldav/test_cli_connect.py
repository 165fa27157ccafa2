"""`calsync connect caldav` from the command line against a real Radicale."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import get_settings
from tests.support.radicale import DavServer


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CALSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CALSYNC_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["user", "add", "ann@acme.test", "--password", "secret-123"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_connect_caldav_then_sync(cli: CliRunner, radicale: DavServer) -> None:
    radicale.make_calendar("alice", "cli-work", display="CLI Work")
    args = ["connect", "caldav", "--user", "ann@acme.test", "--url", radicale.url, "--username", "alice",
            "--password-stdin", "--calendar", "CLI Work"]
    result = cli.invoke(app, args, input="alice-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "calendar 'CLI Work'" in result.output and "cli-work/" in result.output
    assert "alice-pass-1" not in result.output
    synced = cli.invoke(app, ["sync", "--user", "ann@acme.test"])
    assert synced.exit_code == 0, synced.output


def test_connect_caldav_says_what_to_fix(cli: CliRunner, radicale: DavServer) -> None:
    base = ["connect", "caldav", "--user", "ann@acme.test", "--username", "alice", "--password-stdin"]
    wrong = cli.invoke(app, base + ["--url", radicale.url], input="wrong-password\n")
    assert wrong.exit_code == 1 and "refused the user name or password" in wrong.output
    mail = cli.invoke(app, base + ["--url", "imap.example.com"], input="whatever\n")
    assert mail.exit_code == 1 and "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV" in mail.output
    no_stdin = cli.invoke(app, ["connect", "caldav", "--user", "ann@acme.test", "--url", radicale.url,
                                "--username", "alice"])
    assert no_stdin.exit_code == 1 and "--password-stdin" in no_stdin.output
