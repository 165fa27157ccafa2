"""A run's time budget: after its deadline a run takes no new items, says where it stopped, and
ends as `partial`; the runner starts the next run at once (behind the accounts already due), so
one account with a lot to do cannot hold the runner, and nothing is passed over: changes not
taken in keep the cursor where it was, and CRM changes not written stay unsynced until then."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

RUN_BUDGET = dt.timedelta(minutes=5)
PARTIAL = "partial"


@dataclass
class Budget:
    """`deadline` None: no bound. `stopped` names each step that stopped early, with what is left."""

    clock: Callable[[], dt.datetime]
    deadline: dt.datetime | None
    stopped: list[str] = field(default_factory=list)

    @classmethod
    def starting(cls, clock: Callable[[], dt.datetime], allowance: dt.timedelta | None) -> "Budget":
        return cls(clock, None if allowance is None else clock() + allowance)

    def spent(self) -> bool:
        return self.deadline is not None and self.clock() >= self.deadline

    def stop(self, where: str) -> None:
        self.stopped.append(where)

    @property
    def cut(self) -> bool:
        return bool(self.stopped)

    def message(self) -> str:
        return "the run's time budget ran out: " + "; ".join(self.stopped) + ". The rest continues in the next run"
