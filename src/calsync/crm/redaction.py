"""Turning an activity into what one viewer may read. Every read path (API, pages, exports,
logs) goes through `activity_for_viewer`, so a private detail cannot leak through a template."""

from __future__ import annotations

import datetime as dt

from calsync.crm.permissions import is_busy_block_for
from calsync.crm.schemas import ActivityOut, AttendeeOut, ParticipantOut, SyncInfo
from calsync.crm.timing import local_iso
from calsync.store.tables import Activity, User

BUSY_SUBJECT = "Busy"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def timing_fields(activity: Activity) -> tuple[str, str]:
    if activity.all_day:
        assert activity.start_date and activity.end_date
        return activity.start_date.isoformat(), activity.end_date.isoformat()
    assert activity.start_at and activity.end_at and activity.timezone
    return local_iso(activity.start_at, activity.timezone), local_iso(activity.end_at, activity.timezone)


def activity_for_viewer(
    viewer: User, activity: Activity, type_key: str, sync: SyncInfo | None = None
) -> ActivityOut:
    """The activity as `viewer` may see it. A busy block keeps time, busy flag and owner only."""
    start, end = timing_fields(activity)
    common = dict(
        id=activity.id,
        uuid=activity.uuid,
        owner_id=activity.owner_id,
        all_day=activity.all_day,
        start=start,
        end=end,
        timezone=activity.timezone,
        busy=activity.busy,
        visibility=activity.visibility,
        private=activity.private,
        read_only=activity.read_only,
        created_at=activity.created_at.isoformat(),
        updated_at=activity.updated_at.isoformat(),
        deleted_at=_iso(activity.deleted_at),
    )
    # model_construct: the values come from the database through typed columns, so pydantic's
    # validation would only cost time (a third of a 500-activity calendar page).
    if is_busy_block_for(viewer, activity):
        return ActivityOut.model_construct(
            **common,
            subject=BUSY_SUBJECT,
            type="busy",
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
    return ActivityOut.model_construct(
        **common,
        subject=activity.subject,
        type=type_key,
        done=activity.done,
        location=activity.location,
        public_description=activity.public_description,
        note=activity.note,
        deal_id=activity.deal_id,
        person_id=activity.person_id,
        org_id=activity.org_id,
        participants=[ParticipantOut.model_construct(person_id=p.person_id, primary=p.primary) for p in activity.participants],
        attendees=[
            AttendeeOut.model_construct(
                email=a.email, name=a.name, status=a.status, is_organizer=a.is_organizer, person_id=a.person_id
            )
            for a in activity.attendees
        ],
        conference_meeting_url=activity.conference_url,
        redacted=False,
        series_uid=activity.series_uid,
        occurrence_id=activity.occurrence_id,
        origin=activity.origin,
        sync=sync,
    )


def log_label(viewer: User | None, activity: Activity) -> str:
    """How an activity is named in logs: never its subject when it is private."""
    if activity.private:
        return f"activity {activity.id} (private)"
    return f"activity {activity.id}"
