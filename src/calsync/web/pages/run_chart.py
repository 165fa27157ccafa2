"""The run log's chart: the last day's sync runs as bars (pulled, pushed, errors per run), drawn
on the server as inline SVG — people would rather look than read, and a picture needs no script.

`chart(runs, now)` only computes geometry; `templates/_run_chart.html` draws it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.store.tables import SyncRun

DAY = dt.timedelta(days=1)
WIDTH, HEIGHT = 600, 120  # the SVG's viewBox; it scales to the card's width
MAX_RUNS = 300  # a day of runs every five minutes; older ones of the day are left out beyond that
MAX_BAR = 16  # viewBox units: a few runs make a chart of slim bars, not of slabs
MIN_VISIBLE = 5  # viewBox units for a count above zero
SERIES = (("pulled", "Pulled"), ("pushed", "Pushed"), ("errors", "Errors"))


@dataclass(frozen=True)
class Bar:
    kind: str  # pulled / pushed / errors
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class RunBars:
    run_id: int
    started_at: dt.datetime
    status: str
    pulled: int
    pushed: int
    errors: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    runs: tuple[RunBars, ...]
    top: int  # the largest count drawn (the height of the scale)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def totals(self) -> dict[str, int]:
        return {kind: sum(getattr(r, kind) for r in self.runs) for kind, _ in SERIES}


def errors_of(run: SyncRun) -> int:
    return sum(1 for entry in run.entries or [] if entry.get("kind") == "error")


def runs_of_last_day(session: Session, account_id: int, now: dt.datetime) -> list[SyncRun]:
    """The account's runs started in the 24 hours before `now`, oldest first."""
    rows = session.scalars(
        select(SyncRun).where(SyncRun.account_id == account_id, SyncRun.started_at > now - DAY, SyncRun.started_at <= now)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(MAX_RUNS)
    )
    return list(reversed(list(rows)))


def chart(runs: Sequence[SyncRun]) -> Chart:
    """One slot per run, left to right in time; three bars in each slot, scaled to the largest
    count. A count of zero draws a hairline, so every run shows."""
    counts = [(run, run.pulled or 0, run.pushed or 0, errors_of(run)) for run in runs]
    top = max([max(c[1:]) for c in counts] + [1])
    slot = WIDTH / max(1, len(counts))
    bar = min(MAX_BAR, max(0.5, slot * 0.8 / 3))
    items: list[RunBars] = []
    for index, (run, pulled, pushed, errors) in enumerate(counts):
        bars = []
        left = index * slot + (slot - 3 * bar) / 2  # the three bars centred in the run's slot
        for offset, (kind, value) in enumerate((("pulled", pulled), ("pushed", pushed), ("errors", errors))):
            # zero: a hairline, so every run shows; a few: still tall enough to see beside hundreds
            height = 1.0 if value == 0 else max(MIN_VISIBLE, value / top * (HEIGHT - 2))
            x = left + offset * bar
            bars.append(Bar(kind, round(x, 2), round(HEIGHT - height, 2), round(bar, 2), round(height, 2)))
        items.append(RunBars(run.id, run.started_at, run.status, pulled, pushed, errors, tuple(bars)))
    return Chart(tuple(items), top)


def last_day_chart(session: Session, account_id: int, now: dt.datetime) -> Chart:
    return chart(runs_of_last_day(session, account_id, now))
