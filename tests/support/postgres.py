"""A real PostgreSQL server in a temporary data directory on 127.0.0.1, for the test session."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port, wait_for_port


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run `make test` (it installs postgresql)")
    return candidates[-1]


def _demote_args() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: run it as the `postgres` (or `nobody`) user then."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a SQLAlchemy URL of a fresh server; stops it and removes its data afterwards."""
    prefix, uid, gid = _demote_args()
    base = Path(tempfile.mkdtemp(prefix="calsync-pg-"))
    data = base / "data"
    if uid is not None:
        os.chown(base, uid, gid)  # type: ignore[arg-type]
    port = free_port()
    subprocess.run(
        prefix + [_bin("initdb"), "-D", str(data), "-U", "calsync", "-A", "trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )
    log = base / "server.log"
    process = subprocess.Popen(
        prefix + [_bin("postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(base),
                  "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                  "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"postgresql+psycopg://calsync@127.0.0.1:{port}/postgres"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(base, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    """A new empty database on the server at `admin_url`; returns its URL."""
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
