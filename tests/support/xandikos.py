"""A real Xandikos server on 127.0.0.1 with its own temporary (git-backed) storage, started as a
separate process and stopped afterwards.

Xandikos has no plain-HTTP authentication of its own (its --htpasswd option needs TLS), so the
server runs unauthenticated on loopback with its single principal at /user/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port, wait_for_port
from tests.support.radicale import DavServer, _stop


@contextmanager
def xandikos_server() -> Iterator[DavServer]:
    base = Path(tempfile.mkdtemp(prefix="calsync-xandikos-"))
    storage = base / "data"
    port = free_port()
    args = [
        sys.executable, "-m", "xandikos", "serve", "-d", str(storage), "--defaults",
        "-l", "127.0.0.1", "-p", str(port), "--no-detect-systemd",
        "--state-dir", str(base / "state"),
    ]
    log = base / "server.log"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        wait_for_port(port)
        yield DavServer("xandikos", f"http://127.0.0.1:{port}/", storage, {}, log)
    finally:
        _stop(process)
        shutil.rmtree(base, ignore_errors=True)
