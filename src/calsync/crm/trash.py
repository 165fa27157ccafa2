"""Why an activity is in the trash, as one code every reader (API, pages) shows.

`delete_activity` stores a reason in words: "deleted in the CRM" for a person deleting it (the
API, the pages), or the sync engine's reason ("deleted in your calendar"). An occurrence of a
recurring calendar event (read-only) that sync trashed was cancelled in the calendar, and only
the calendar can bring it back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

TrashReason = Literal["deleted_in_crm", "deleted_in_calendar", "cancelled_occurrence"]
CRM_REASON = "deleted in the CRM"  # what a person's deletion stores (crm.services.activities)


def trash_reason(values: Mapping[str, Any]) -> TrashReason | None:
    """The code for a trashed activity's column values (None when it is not in the trash)."""
    if not _get(values, "deleted_at"):
        return None
    stored = _get(values, "deleted_reason")
    if stored is None or str(stored).startswith(CRM_REASON):
        return "deleted_in_crm"
    return "cancelled_occurrence" if _get(values, "read_only") else "deleted_in_calendar"


def deleted_by(values: Mapping[str, Any]) -> int | None:
    """Who moved it to the trash by hand (the last writer of a deleted row), else None."""
    return _get(values, "updated_by_id") if trash_reason(values) == "deleted_in_crm" else None


def _get(values: Mapping[str, Any], key: str) -> Any:
    try:
        return values[key]
    except (KeyError, AttributeError):
        return None
