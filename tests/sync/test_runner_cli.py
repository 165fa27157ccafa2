"""The embedded runner (debounced sync after CRM changes, backoff, auth errors stop retries) and
the `calsync sync` command."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services.activities import create_activity
from calsync.jobs.runner import EmbeddedRunner
from calsync.store.tables import User
from tests.sync.harness import Harness

A = "alice@example.com"


def wait_until(check, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def runner(h: Harness):  # type: ignore[no-untyped-def]
    job = EmbeddedRunner(h.context, h.engine, interval=3600, debounce=0.3, retry_base=0.2)
    yield job
    job.stop()


def test_a_crm_change_of_a_synced_user_syncs_about_a_second_later(h: Harness, runner: EmbeddedRunner) -> None:
    h.connect(A)
    runner.start()
    assert wait_until(lambda: any(s.status == "ok" for s in runner.history))  # the start-up round
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with h.session() as s:  # an API write: announced to the runner
        create_activity(s, s.get(User, h.users[A]), ActivityCreate(subject="Call Bob", type="call", start=start.isoformat()), source="api")
    began = time.monotonic()
    assert wait_until(lambda: [e.summary for e in h.events(A)] == ["Call Bob"])
    assert time.monotonic() - began < 5


def test_failed_runs_retry_with_backoff_and_auth_errors_stop_retrying(h: Harness, runner: EmbeddedRunner) -> None:
    account_id = h.connect(A)
    h.server.fail("5xx", method="list_changes")
    runner.start()
    assert wait_until(lambda: [s.status for s in runner.history][:2] == ["provider_error", "ok"], timeout=15)
    h.server.revoke(A)
    runner.request_sync(account_id, "manual")
    assert wait_until(lambda: runner.history[-1].status == "auth_error")
    calls = sum(h.server.requests.values())
    time.sleep(1.5)
    assert sum(h.server.requests.values()) == calls and runner.history[-1].status == "auth_error"


def test_calsync_sync_prints_a_one_line_summary(h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from calsync import cli
    from calsync.config import get_settings
    from calsync.sync import registry

    h.connect(A)
    h.create(A, "Call Bob")
    registry.register(h.factory)
    monkeypatch.setenv("CALSYNC_DATABASE_URL", str(h.context.settings.database_url))
    monkeypatch.setenv("CALSYNC_SECRET_KEY", str(h.context.settings.secret_key))
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["sync", "--user", A])
        missing = CliRunner().invoke(cli.app, ["sync", "--user", "nobody@example.com"])
    finally:
        get_settings.cache_clear()
        from calsync.providers.memory import DEFAULT_FACTORY

        registry.register(DEFAULT_FACTORY)
    assert result.exit_code == 0, result.output
    assert f"{A}: ok: 0 pulled, 1 pushed, 0 deleted, 0 conflicts, 0 skipped, 0 errors" in result.output
    assert [e.summary for e in h.events(A)] == ["Call Bob"]
    assert missing.exit_code == 1


def _hold_lease(url: str, account_id: int) -> subprocess.Popen[str]:
    """Another process (as the app's runner would be) holding the account's run lease until told."""
    script = (
        "import sys; from calsync.store.db import make_engine, make_session_factory; from calsync.sync.lease import Lease\n"
        f"lease = Lease(make_session_factory(make_engine({url!r})), {account_id})\n"
        "print('taken' if lease.take() else 'busy', flush=True)\n"
        "sys.stdin.readline()\n"
        "lease.release()\n"
        "print('released', flush=True)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert other.stdout is not None and other.stdout.readline().strip() == "taken"
    return other


def test_calsync_sync_waits_for_a_running_sync_of_the_account_and_no_wait_reports_busy(
        h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from calsync import cli
    from calsync.config import get_settings
    from calsync.sync import registry

    account_id = h.connect(A)
    h.create(A, "Call Bob")
    registry.register(h.factory)
    monkeypatch.setenv("CALSYNC_DATABASE_URL", str(h.context.settings.database_url))
    monkeypatch.setenv("CALSYNC_SECRET_KEY", str(h.context.settings.secret_key))
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    other = _hold_lease(str(h.context.settings.database_url), account_id)
    try:
        busy = CliRunner().invoke(cli.app, ["sync", "--user", A, "--no-wait"])
        assert busy.exit_code == 1, busy.output
        assert "a sync of this account is already running" in busy.output
        results: list[Any] = []
        waiting = threading.Thread(target=lambda: results.append(CliRunner().invoke(cli.app, ["sync", "--user", A])))
        waiting.start()
        waiting.join(2.0)
        assert waiting.is_alive() and results == []  # still waiting for the other process's run
        assert h.events(A) == []
        assert other.stdout is not None
        other.stdin.write("done\n")  # type: ignore[union-attr]
        other.stdin.flush()  # type: ignore[union-attr]
        assert other.stdout.readline().strip() == "released"
        waiting.join(30)
        other.wait(20)
    finally:
        if other.poll() is None:
            other.kill()
        get_settings.cache_clear()
        from calsync.providers.memory import DEFAULT_FACTORY

        registry.register(DEFAULT_FACTORY)
    assert not waiting.is_alive() and results[0].exit_code == 0, results[0].output
    assert f"{A}: ok: 0 pulled, 1 pushed" in results[0].output
    assert [e.summary for e in h.events(A)] == ["Call Bob"]
