"""A real Redis server in a temporary directory on 127.0.0.1, for the test session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port, wait_for_port


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields a redis:// URL of a fresh server (no persistence); stops it and removes its files afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make test` (it installs redis-server)")
    base = Path(tempfile.mkdtemp(prefix="calsync-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(base), "--save", "",
         "--appendonly", "no", "--protected-mode", "yes", "--logfile", str(base / "server.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(base, ignore_errors=True)
