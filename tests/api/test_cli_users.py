"""`calsync users list|add|deactivate|make-admin|reset-password` on a temporary var dir: what an
operator types, what it prints, and that the users it makes can (or can no longer) sign in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import get_settings
from calsync.crm.errors import Unauthorized
from calsync.crm.services import accounts, users
from calsync.crypto import SecretBox
from calsync.store.db import make_engine, make_session_factory, session_scope

LINK = re.compile(r"http://\S+/set-password/(\S+)")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CALSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CALSYNC_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def _run(cli: CliRunner, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = cli.invoke(app, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def _signs_in(email: str, password: str) -> bool:
    factory = make_session_factory(make_engine(get_settings().resolved_database_url()))
    with factory() as session:
        try:
            accounts.authenticate(session, email, password)
            return True
        except Unauthorized:
            return False


def _use_link(token: str, password: str) -> None:
    """What the set-password page does with the link's token, with the app's own key."""
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    with session_scope(factory) as session:
        users.set_password_by_link(session, SecretBox(settings.resolved_secret_key()), token, password,
                                   dt.datetime.now(dt.timezone.utc))


def test_users_add_list_admin_and_deactivate(cli: CliRunner) -> None:
    out = _run(cli, "users", "add", "ann@acme.test", "--company", "Acme", "--admin", "--name", "Ann Admin",
               "--password-stdin", stdin="ann-pass-123\n")
    assert "added ann@acme.test (company Acme, admin)" in out and "API token:" in out
    out = _run(cli, "users", "add", "bob@acme.test", "--company", "Acme", "--invite")
    token = LINK.search(out).group(1)  # type: ignore[union-attr]
    assert "valid 7 days" in out
    _run(cli, "users", "add", "gus@globex.test", "--company", "Globex", "--password-stdin", stdin="gus-pass-123\n")

    listed = _run(cli, "users", "list", "--company", "Acme").splitlines()
    assert listed == ["ann@acme.test\tAnn Admin\tAcme\tadmin\tactive", "bob@acme.test\tBob\tAcme\t-\tinvited"]
    assert len(_run(cli, "users", "list").splitlines()) == 3
    assert "no company" in _run(cli, "users", "list", "--company", "Nope", code=1)

    assert _signs_in("ann@acme.test", "ann-pass-123")
    _use_link(token, "bob-pass-123")
    assert _signs_in("bob@acme.test", "bob-pass-123")
    assert "bob@acme.test\tBob\tAcme\t-\tactive" in _run(cli, "users", "list", "--company", "Acme")

    assert "last admin" in _run(cli, "users", "make-admin", "ann@acme.test", "--undo", code=1)
    assert "last admin" in _run(cli, "users", "deactivate", "ann@acme.test", code=1)
    assert "now an admin" in _run(cli, "users", "make-admin", "bob@acme.test")
    assert "no longer an admin" in _run(cli, "users", "make-admin", "ann@acme.test", "--undo")
    assert "no longer sign in" in _run(cli, "users", "deactivate", "ann@acme.test")
    assert not _signs_in("ann@acme.test", "ann-pass-123")
    assert "ann@acme.test\tAnn Admin\tAcme\t-\tdeactivated" in _run(cli, "users", "list", "--company", "Acme")
    assert "can sign in again" in _run(cli, "users", "deactivate", "ann@acme.test", "--undo")
    assert _signs_in("ann@acme.test", "ann-pass-123")
    # Globex's own admin rights are untouched by all of this (one company never counts another's).
    assert "last admin" not in _run(cli, "users", "make-admin", "gus@globex.test")


def test_users_reset_password(cli: CliRunner) -> None:
    _run(cli, "users", "add", "ann@acme.test", "--company", "Acme", "--admin", "--password-stdin", stdin="ann-pass-123\n")
    assert "sessions have ended" in _run(cli, "users", "reset-password", "ann@acme.test", "--password-stdin",
                                          stdin="new-pass-456\n")
    assert _signs_in("ann@acme.test", "new-pass-456") and not _signs_in("ann@acme.test", "ann-pass-123")
    out = _run(cli, "users", "reset-password", "ann@acme.test")
    assert "valid 24 hours" in out
    assert not _signs_in("ann@acme.test", "new-pass-456")
    _use_link(LINK.search(out).group(1), "linked-pass-789")  # type: ignore[union-attr]
    assert _signs_in("ann@acme.test", "linked-pass-789")


@pytest.mark.parametrize("args, stdin, words", [
    (["users", "add", "x@acme.test"], None, "choose one"),
    (["users", "add", "x@acme.test", "--invite", "--password-stdin"], "pass-word-1\n", "choose one"),
    (["users", "add", "x@acme.test", "--password-stdin"], "short\n", "8 characters"),
    (["users", "add", "x@acme.test", "--password-stdin"], "\n", "no password"),
    (["users", "add", "x@acme.test", "--invite", "--timezone", "Moon/Base"], None, "IANA"),
    (["users", "add", "not-an-address", "--invite"], None, "not an e-mail address"),
    (["users", "deactivate", "nobody@acme.test"], None, "no user"),
    (["users", "make-admin", "nobody@acme.test"], None, "no user"),
    (["users", "reset-password", "nobody@acme.test"], None, "no user"),
])
def test_users_commands_refuse_bad_input_with_a_message(cli: CliRunner, args: list[str], stdin: str | None,
                                                        words: str) -> None:
    out = _run(cli, *args, code=1, stdin=stdin)
    assert "error:" in out and words in " ".join(out.split())
