"""How far a running sync has got, for people watching a long first import.

The engine reports `Progress` at a few points of a run (each page read from the calendar, the
imports about to be stored and stored, the writes to the calendar); `RunProgress` writes it to the
run's row in a small transaction of its own, so a page can poll it while the run goes on. The
engine never reports while its own transaction holds the database (the inbound commit), so
these writes never wait for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from calsync.store.tables import SyncRun

log = logging.getLogger("calsync.sync")

Phase = Literal["reading", "importing", "writing"]
STEPS = 50  # at most about this many writes per phase with a known total


@dataclass(frozen=True)
class Progress:
    """`done` items of `phase`, of `total` when the run knows it (None: not yet known)."""

    phase: Phase
    done: int
    total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Report = Callable[[Progress], None]


def nothing(_: Progress) -> None:
    """The report of a run nobody watches."""


class RunProgress:
    """Writes a run's progress to its row. Thinned out for long phases with a known total (about
    STEPS writes per phase); a failed write is logged and ignored: progress is for the eye, it
    never stops a run."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int) -> None:
        # its own plain commits, not the engine's commit seam: crash tests count the run's commits
        self.sessions, self.run_id = sessions, run_id
        self.last: Progress | None = None

    def _due(self, progress: Progress) -> bool:
        last = self.last
        if last is None or last.phase != progress.phase or last.total != progress.total or progress.total is None:
            return True
        step = max(1, progress.total // STEPS)
        return progress.done >= progress.total or progress.done - last.done >= step

    def __call__(self, progress: Progress) -> None:
        if not self._due(progress):
            return
        session = self.sessions()
        try:
            session.execute(
                update(SyncRun).where(SyncRun.id == self.run_id, SyncRun.status == "running")
                .values(progress=progress.as_dict()).execution_options(synchronize_session=False)
            )
            session.commit()
            self.last = progress
        except SQLAlchemyError:
            session.rollback()
            log.warning("could not record the progress of sync run %s", self.run_id, exc_info=True)
        finally:
            session.close()
