"""Sync engine figures on the in-memory provider and SQLite: a first sync of 1,000 CRM activities
and 200 calendar events, the echo run, a run after 10 edits, and an idle run (time and provider
requests). Run: `.venv/bin/python -m bench.sync_engine`."""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync.config import Settings
from calsync.store import migrate
from calsync.web.context import AppContext
from tests.sync.harness import Harness, soon


def timed(h: Harness, email: str, label: str) -> None:
    before = sum(h.server.requests.values())
    started = time.perf_counter()
    summary = h.sync(email)
    elapsed = time.perf_counter() - started
    print(f"{label}: {summary.line()} | {elapsed * 1000:.0f} ms | {sum(h.server.requests.values()) - before} requests")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    os.environ.setdefault("CALSYNC_TEST_PROVIDERS", "1")  # the in-memory provider is test-only
    folder = tempfile.mkdtemp(prefix="calsync-bench-")
    url = f"sqlite:///{folder}/bench.db"
    migrate.upgrade(url)
    context = AppContext.build(Settings(var_dir=folder, database_url=url, secret_key="bench", embedded_dav=False, runner="none"))  # type: ignore[arg-type]
    h = Harness(context)
    email = "bench@example.com"
    h.user(email)
    h.connect(email)
    for n in range(1000):
        h.create(email, f"Call {n}", start=soon(2 + n))
    for n in range(200):
        h.put_event(email, f"Event {n}", start=soon(3 + n))
    timed(h, email, "first sync")
    timed(h, email, "echo of our writes")
    for activity in h.activities(email)[:10]:
        h.edit(email, activity.id, subject=activity.subject + " (edited)")
    timed(h, email, "after 10 CRM edits")
    timed(h, email, "idle")


if __name__ == "__main__":
    main()
