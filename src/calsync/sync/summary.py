"""What one sync run did, as counted while it runs and stored in its SyncRun row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunSummary:
    account_id: int
    status: str = "running"  # ok / partial (out of its time budget, goes on next run) / needs_confirmation / auth_error / provider_error / paused / busy / retry / restart (settings moved)
    pulled: int = 0
    pushed: int = 0
    deleted: int = 0
    conflicts: int = 0
    skipped: int = 0
    errors: int = 0
    message: str | None = None
    run_id: int | None = None
    retry_after: float | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)

    def note(self, kind: str, item: str, message: str, *, activity_id: int | None = None) -> None:
        """One log entry; `activity_id` names the activity an error is about (its sync status
        shows the reason even when it has no link yet, such as a create the calendar refused)."""
        entry: dict[str, Any] = {"kind": kind, "item": item, "message": message}
        if activity_id is not None:
            entry["activity_id"] = activity_id
        self.entries.append(entry)
        if kind == "conflict":
            self.conflicts += 1
        elif kind == "skip":
            self.skipped += 1
        elif kind == "error":
            self.errors += 1

    @property
    def writes(self) -> int:
        return self.pulled + self.pushed + self.deleted

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        text = (
            f"{self.status}: {self.pulled} pulled, {self.pushed} pushed, {self.deleted} deleted, "
            f"{self.conflicts} conflicts, {self.skipped} skipped, {self.errors} errors"
        )
        return text + (f" — {self.message}" if self.message else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
