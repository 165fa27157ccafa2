"""Turning an activity into what one viewer may read. Every read path (API, pages, exports,
logs) goes through `activity_for_viewer` (or its row form `activity_row_for_viewer`, the same
rule on a mapping of column values, for pages of up to 500 activities read without the ORM), so
a private detail cannot leak through a template.

Attendees are not linked items: they are addresses as the calendar wrote them, matched to a CRM
person the activity's *owner* may see. Another viewer may not see that person, so an attendee
shows its `person_id` only when it is in `visible_persons` (the ids among the attendees' persons
that the viewer may see, `permissions.visible_items_sql`); otherwise its address and name as
written, and no link. Participants, deal, person and organization are linked items: the
visibility rule already hides the whole activity from a viewer who may not see one of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from calsync.crm.permissions import busy_block
from calsync.crm.schemas import ActivityOut, AttendeeOut, ParticipantOut, SyncInfo
from calsync.crm.timing import local_iso
from calsync.crm.trash import deleted_by, trash_reason
from calsync.store.tables import Activity, User

BUSY_SUBJECT = "Busy"
BUSY_TYPE = "busy"  # the type a busy block shows (filters match it on this, not its real type)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def timing_fields(activity: Activity | Mapping[str, Any]) -> tuple[str, str]:
    values = activity if isinstance(activity, Mapping) else _Attributes(activity)
    if values["all_day"]:
        assert values["start_date"] and values["end_date"]
        return values["start_date"].isoformat(), values["end_date"].isoformat()
    assert values["start_at"] and values["end_at"] and values["timezone"]
    return local_iso(values["start_at"], values["timezone"]), local_iso(values["end_at"], values["timezone"])


class _Attributes(Mapping[str, Any]):
    """An ORM object (or anything with attributes) read as a mapping of its column values."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getitem__(self, key: str) -> Any:
        return getattr(self._target, key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def activity_row_for_viewer(
    viewer: User,
    values: Mapping[str, Any],
    type_key: str,
    sync: SyncInfo | None = None,
    *,
    visible_persons: Collection[int],
) -> dict[str, Any]:
    """The activity (its column values, plus `participants` and `attendees` lists of objects
    with attributes) as `viewer` may see it, as a plain dict shaped like `ActivityOut`.
    A busy block keeps time, busy flag and owner only. `visible_persons`: the attendees'
    persons the viewer may see (required, so no read path can forget it)."""
    start, end = timing_fields(values)
    deleted_at = values["deleted_at"]
    common = {
        "id": values["id"],
        "uuid": values["uuid"],
        "owner_id": values["owner_id"],
        "all_day": values["all_day"],
        "start": start,
        "end": end,
        "timezone": values["timezone"],
        "busy": values["busy"],
        "visibility": values["visibility"],
        "private": values["private"],
        "read_only": values["read_only"],
        "created_at": values["created_at"].isoformat(),
        "updated_at": values["updated_at"].isoformat(),
        "deleted_at": deleted_at.isoformat() if deleted_at else None,
        "deleted_reason": trash_reason(values),
        "deleted_by_id": deleted_by(values),
    }
    if busy_block(viewer, private=values["private"], owner_id=values["owner_id"]):
        common.update(
            subject=BUSY_SUBJECT,
            type=BUSY_TYPE,
            done=False,
            location="",
            public_description="",
            note="",
            deal_id=None,
            person_id=None,
            org_id=None,
            participants=[],
            attendees=[],
            conference_meeting_url="",
            redacted=True,
            series_uid=None,
            occurrence_id=None,
            origin="hidden",
            sync=None,
        )
        return common
    common.update(
        subject=values["subject"],
        type=type_key,
        done=values["done"],
        location=values["location"],
        public_description=values["public_description"],
        note=values["note"],
        deal_id=values["deal_id"],
        person_id=values["person_id"],
        org_id=values["org_id"],
        participants=[{"person_id": p.person_id, "primary": p.primary} for p in values["participants"]],
        attendees=[
            {"email": a.email, "name": a.name, "status": a.status, "is_organizer": a.is_organizer,
             "person_id": a.person_id if a.person_id in visible_persons else None}
            for a in values["attendees"]
        ],
        conference_meeting_url=values["conference_url"],
        redacted=False,
        series_uid=values["series_uid"],
        occurrence_id=values["occurrence_id"],
        origin=values["origin"],
        sync=sync,
    )
    return common


def activity_for_viewer(
    viewer: User,
    activity: Activity | Mapping[str, Any],
    type_key: str,
    sync: SyncInfo | None = None,
    *,
    visible_persons: Collection[int],
) -> ActivityOut:
    """The activity as `viewer` may see it (`activity_row_for_viewer`, as an `ActivityOut`)."""
    values = activity if isinstance(activity, Mapping) else _Attributes(activity)
    shown = activity_row_for_viewer(viewer, values, type_key, sync, visible_persons=visible_persons)
    # model_construct: the values come from the database through typed columns, so pydantic's
    # validation would only cost time.
    shown["participants"] = [ParticipantOut.model_construct(**p) for p in shown["participants"]]
    shown["attendees"] = [AttendeeOut.model_construct(**a) for a in shown["attendees"]]
    return ActivityOut.model_construct(**shown)


def log_label(viewer: User | None, activity: Activity) -> str:
    """How an activity is named in logs: never its subject when it is private."""
    if activity.private:
        return f"activity {activity.id} (private)"
    return f"activity {activity.id}"
