"""Scale-out processes for tests: `calsync worker` and `calsync scheduler` as real subprocesses
against a given PostgreSQL URL and Redis URL, each with its own log file, stopped (or killed)
by the test.

    with ScaleOut(database_url, broker_url, env={"CALSYNC_GOOGLE_API_URL": ...}) as cluster:
        first = cluster.worker(concurrency=4)
        cluster.scheduler()
        ...
        first.kill()                      # SIGKILL, as a crashed machine
        print(cluster.logs())             # every process's log, for a failing assertion

`env` adds or overrides CALSYNC_* variables for every process; `worker(env=...)` for one.
Every process is stopped when the block ends (SIGTERM, then SIGKILL after a few seconds)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import calsync

SRC = str(Path(calsync.__file__).resolve().parents[1])
READY = {"worker": re.compile(r"calsync worker: .*ready|celery@\S+ ready"), "scheduler": re.compile(r"calsync scheduler ")}


class Process:
    """One `calsync worker` or `calsync scheduler` subprocess."""

    def __init__(self, kind: str, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.kind, self.popen, self.log_path = kind, popen, log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 60.0) -> None:
        """Waits until the log matches `pattern` (the process answered, not a fixed sleep)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if regex.search(self.log()):
                return
            if not self.alive():
                raise RuntimeError(f"{self.kind} exited with {self.popen.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.kind} log never matched {regex.pattern!r} within {timeout}s:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-sync, without cleaning up (a crashed machine)."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL if it does not end in `timeout` seconds."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class ScaleOut:
    """Starts workers and schedulers on one database and one broker; stops them all at the end."""

    def __init__(self, database_url: str, broker_url: str, *, secret_key: str = "test-secret-key",
                 env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        self.dir = Path(log_dir or tempfile.mkdtemp(prefix="calsync-scaleout-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            "CALSYNC_DATABASE_URL": database_url,
            "CALSYNC_BROKER_URL": broker_url,
            "CALSYNC_SECRET_KEY": secret_key,
            "CALSYNC_VAR_DIR": str(self.dir / "var"),
            "CALSYNC_LOG_LEVEL": "info",
            "CALSYNC_EMBEDDED_DAV": "false",
            **(env or {}),
        }
        self.processes: list[Process] = []

    def _start(self, kind: str, args: list[str], env: dict[str, str] | None, ready: bool, timeout: float) -> Process:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
        environment.update(self.env)
        environment.update(env or {})
        environment["PYTHONPATH"] = os.pathsep.join([SRC, *filter(None, [environment.get("PYTHONPATH")])])
        environment["PYTHONUNBUFFERED"] = "1"
        log = self.dir / f"{kind}-{len(self.processes) + 1}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen([sys.executable, "-c", "from calsync.cli import app; app()", kind, *args],
                                     stdout=out, stderr=subprocess.STDOUT, env=environment, cwd=self.dir,
                                     start_new_session=True)
        process = Process(kind, popen, log)
        self.processes.append(process)
        if ready:
            process.wait_for(READY[kind], timeout=timeout)
        return process

    def worker(self, concurrency: int = 4, *, env: dict[str, str] | None = None, ready: bool = True,
               timeout: float = 60.0) -> Process:
        """A `calsync worker --concurrency N`; returns once it takes tasks (unless ready=False)."""
        return self._start("worker", ["--concurrency", str(concurrency)], env, ready, timeout)

    def scheduler(self, *, env: dict[str, str] | None = None, ready: bool = True, timeout: float = 60.0) -> Process:
        """A `calsync scheduler` (active if none is, else standing by)."""
        return self._start("scheduler", [], env, ready, timeout)

    def logs(self) -> str:
        return "\n".join(f"===== {p.kind} {p.pid} ({p.log_path.name})\n{p.log()[-6000:]}" for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            if process.alive():
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.stop(timeout=10)

    def __enter__(self) -> "ScaleOut":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
