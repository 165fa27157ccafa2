"""When syncs run: the in-process runner (default, jobs/runner.py) or, with `CALSYNC_BROKER_URL`
set, Celery workers fed by `calsync scheduler` (jobs/queue.py, jobs/scheduler.py, jobs/tasks.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from calsync.web.context import AppContext


def install(app: "FastAPI", context: "AppContext") -> None:
    """The app's `SyncScheduler` in `context.extras["runner"]`: the shared queue when a broker is
    configured (this process then runs no syncs), else the embedded runner."""
    if context.settings.broker_url:
        from calsync.jobs.queued import install as install_queued

        install_queued(app, context)
    else:
        from calsync.jobs.runner import install as install_embedded

        install_embedded(app, context)
