"""What `calsync serve` prints (issue 13 point 12): at the default level one line per client
request (browser, API, calendar app), none for the sync engine's own requests to the built-in
calendar, nothing of Radicale's configuration, one summary line per sync run; `--log-level warning`
prints no request lines. The real command runs as a subprocess on a free port and a temp var dir."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import func, select

from calsync.store.db import make_engine
from calsync.store.tables import SyncRun
from tests.support.ports import free_port, wait_for_port

CLI = "from calsync.cli import main; main()"
REQUEST_LINE = re.compile(r'"(GET|POST|PUT|DELETE|PATCH|PROPFIND|REPORT|OPTIONS|HEAD) (\S+) HTTP/1\.1"')
SUMMARY = "sync of account"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36", "Accept": "text/html"}


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    env.update(CALSYNC_VAR_DIR=str(var_dir), CALSYNC_SYNC_INTERVAL_SECONDS="3600", **extra)
    return env


def _calsync(var_dir: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", CLI, *args], env=_env(var_dir), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def _serving(var_dir: Path, log: Path, *args: str, **env: str) -> Iterator[str]:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--port", str(port), *args],
                                   env=_env(var_dir, **env), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            assert process.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()  # Uvicorn re-raises it


def _wait_for_line(log: Path, text: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in the log after {timeout}s:\n{log.read_text()}"
        time.sleep(0.1)


def _client_requests(base: str, token: str) -> None:
    """A browser page, an API call, and a calendar app signing in with alice's own password."""
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/login", headers=BROWSER).status_code == 200
        assert client.get("/api/v1/users/me", params={"api_token": token}).status_code == 200
        answer = client.request("PROPFIND", "/dav/", headers={"Depth": "0"}, auth=("alice@example.com", "calsync-demo"))
        assert answer.status_code == 207


def test_default_log_is_one_line_per_client_request_and_per_sync_run(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _calsync(var_dir, "db", "upgrade")
    token = re.search(r"alice@example\.com\s+admin\s+API token: (\w+)", _calsync(var_dir, "demo")).group(1)  # type: ignore[union-attr]
    log = tmp_path / "serve.log"
    with _serving(var_dir, log) as base:
        _wait_for_line(log, SUMMARY)  # the first sync of alice's built-in calendar pushed her activities
        _client_requests(base, token)
    lines = log.read_text().splitlines()
    requests = [m.group(1, 2) for line in lines if (m := REQUEST_LINE.search(line))]
    assert sorted(requests) == [("GET", "/api/v1/users/me?api_token=[redacted]"), ("GET", "/login"),
                                ("PROPFIND", "/dav/")], "\n".join(lines)
    assert token not in log.read_text()
    assert not [line for line in lines if " radicale " in line or "httpx" in line or "alembic" in line], "\n".join(lines)
    engine = make_engine(f"sqlite:///{var_dir / 'calsync.db'}")
    with engine.connect() as connection:
        runs = connection.scalar(select(func.count()).select_from(SyncRun))
        pushed = connection.scalar(select(func.max(SyncRun.pushed)))
    engine.dispose()
    summaries = [line for line in lines if SUMMARY in line]
    assert runs >= 1 and pushed > 0 and len(summaries) == runs, "\n".join(lines)
    assert all(" ok: " in line for line in summaries), summaries


def test_log_level_warning_prints_no_request_lines(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _calsync(var_dir, "db", "upgrade")
    token = re.search(r"alice@example\.com\s+admin\s+API token: (\w+)", _calsync(var_dir, "demo")).group(1)  # type: ignore[union-attr]
    log = tmp_path / "serve.log"
    with _serving(var_dir, log, "--log-level", "warning", CALSYNC_LOG_LEVEL="debug") as base:
        _client_requests(base, token)
    assert not [line for line in log.read_text().splitlines() if REQUEST_LINE.search(line)], log.read_text()


def test_a_bad_log_level_is_refused_with_the_choices(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _calsync(var_dir, "db", "upgrade")
    for args, env in ((["--log-level", "loud"], {}), ([], {"CALSYNC_LOG_LEVEL": "loud"})):
        done = subprocess.run([sys.executable, "-c", CLI, "serve", "--port", str(free_port()), *args],
                              env=_env(var_dir, **env), capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "debug, info, warning, error" in done.stdout and "CALSYNC_LOG_LEVEL" in done.stdout, done.stdout
