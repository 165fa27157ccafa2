"""Create, change, trash and restore activities. The API, the pages and the sync engine all call
these, so validation, permissions and change tracking (`version`) happen in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from calsync.crm.errors import Conflict, CrmError, Invalid, NotFound
from calsync.crm.permissions import can_see_activity, require_edit
from calsync.crm.schemas import ActivityCreate, ActivityUpdate, AttendeeIn, ParticipantIn
from calsync.crm.services import changes
from calsync.crm.services.accounts import user_in_company
from calsync.crm.services.activity_types import type_by_key
from calsync.crm.services.items import linkable
from calsync.crm.timing import Timing, parse_date, parse_instant, zone
from calsync.crm.trash import CRM_REASON
from calsync.store.tables import (
    Activity,
    ActivityAttendee,
    ActivityParticipant,
    Deal,
    Organization,
    Person,
    PersonEmail,
    User,
    utcnow,
)

Source = Literal["api", "ui", "sync", "demo"]
TRASH_DAYS = 30
READ_ONLY_MESSAGE = (
    "this activity is an occurrence of a recurring event from your calendar and is read-only here: "
    "edit it in the calendar, and the change will sync back"
)

CANCELLED_OCCURRENCE_MESSAGE = (
    "this occurrence was cancelled in the calendar: it cannot be restored here. "
    "Restore it in your calendar and it comes back with the next sync"
)


def build_timing(*, start: str, end: str | None, all_day: bool, timezone: str | None, default_zone: str) -> Timing:
    """Reads the API's start/end/all_day/timezone into a Timing, with messages that say what to fix."""
    if all_day:
        start_date = parse_date(start, "start")
        end_date = parse_date(end, "end") if end else None
        return Timing.day_span(start_date, end_date)
    tz_name = timezone or default_zone
    zone(tz_name)
    start_at = parse_instant(start, tz_name, "start")
    end_at = parse_instant(end, tz_name, "end") if end else start_at
    return Timing.timed(start_at, end_at, tz_name)


def apply_timing(activity: Activity, timing: Timing) -> None:
    activity.all_day = timing.all_day
    activity.start_at, activity.end_at, activity.timezone = timing.start_at, timing.end_at, timing.timezone
    activity.start_date, activity.end_date = timing.start_date, timing.end_date
    activity.span_start, activity.span_end = timing.span()
    activity.is_long = timing.is_long()


def timing_of(activity: Activity) -> Timing:
    return Timing(
        all_day=activity.all_day,
        start_at=activity.start_at,
        end_at=activity.end_at,
        timezone=activity.timezone,
        start_date=activity.start_date,
        end_date=activity.end_date,
    )


def linked_items(session: Session, activity: Activity) -> list[Deal | Person | Organization | None]:
    """The deal, person and organization (None where unset), then every participant's person:
    all the items the visibility rule checks."""
    return [
        session.get(Deal, activity.deal_id) if activity.deal_id else None,
        session.get(Person, activity.person_id) if activity.person_id else None,
        session.get(Organization, activity.org_id) if activity.org_id else None,
        *(session.get(Person, p.person_id) for p in activity.participants),
    ]


def get_activity(session: Session, viewer: User, activity_id: int, *, include_deleted: bool = False) -> Activity:
    """The activity if the viewer may see it; 404 otherwise (existence is not disclosed)."""
    found = session.get(Activity, activity_id)
    if found is None or (found.deleted and not include_deleted):
        raise NotFound(f"there is no activity {activity_id} that you can see")
    if not can_see_activity(viewer, found, linked_items(session, found)):
        raise NotFound(f"there is no activity {activity_id} that you can see")
    return found


def _set_participants(session: Session, viewer: User, activity: Activity, participants: list[ParticipantIn]) -> None:
    seen: set[int] = set()
    activity.participants.clear()
    for item in participants:
        linkable(session, viewer, "person_id", item.person_id)
        if item.person_id in seen:
            continue
        seen.add(item.person_id)
        activity.participants.append(ActivityParticipant(person_id=item.person_id, primary=item.primary))


def _match_persons(session: Session, company_id: int, owner_id: int, emails: list[str]) -> dict[str, int]:
    """Lowercased e-mail -> the person it belongs to (the oldest person when several share it),
    for linking attendees: one lookup on the `person_emails` index for the whole list. Only
    persons the activity's owner may see are matched: a match to anyone else's owner-only
    contact would tell the owner that it exists."""
    if not emails:
        return {}
    rows = session.execute(
        select(PersonEmail.email, PersonEmail.person_id)
        .join(Person, Person.id == PersonEmail.person_id)
        .where(PersonEmail.company_id == company_id, PersonEmail.email.in_(emails),
               or_(Person.owner_id == owner_id, Person.visibility == "everyone"))
        .order_by(PersonEmail.person_id.desc())
    )
    return {email: person_id for email, person_id in rows}  # the lowest id is written last


def _unique_attendees(attendees: list[AttendeeIn]) -> dict[str, AttendeeIn]:
    """Attendees by lowercased e-mail, the first one of each address kept."""
    unique: dict[str, AttendeeIn] = {}
    for item in attendees:
        unique.setdefault(str(item.email).lower(), item)
    return unique


def _attendee_rows(unique: dict[str, AttendeeIn], matches: dict[str, int]) -> list[ActivityAttendee]:
    return [
        ActivityAttendee(
            email=email, name=item.name, status=item.status, is_organizer=item.is_organizer,
            person_id=matches.get(email),
        )
        for email, item in unique.items()
    ]


def _set_attendees(session: Session, activity: Activity, attendees: list[AttendeeIn]) -> None:
    activity.attendees.clear()
    unique = _unique_attendees(attendees)
    matches = _match_persons(session, activity.company_id, activity.owner_id, list(unique))
    activity.attendees.extend(_attendee_rows(unique, matches))


def _rematch_attendees(session: Session, activity: Activity) -> None:
    """Matches the attendees again for a new owner, who may see other persons."""
    matches = _match_persons(session, activity.company_id, activity.owner_id, [a.email.lower() for a in activity.attendees])
    for attendee in activity.attendees:
        attendee.person_id = matches.get(attendee.email.lower())


def _claim_version(session: Session, activity: Activity, expected: int) -> None:
    """Optimistic check that touches the database: the row in this session may have been loaded
    before another connection committed an edit, so comparing it with `expected` proves nothing.
    The versioned UPDATE matches only if the committed row still has `expected` (and holds the
    row until this transaction ends), so a concurrent edit is never overwritten."""
    stale = Conflict(f"activity {activity.id} changed meanwhile: reload and retry")
    if activity.version != expected:
        raise stale
    claimed = session.execute(
        update(Activity).where(Activity.id == activity.id, Activity.version == expected)
        .values(version=expected).execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise stale


def _touch(activity: Activity, actor: User) -> None:
    activity.version = (activity.version or 0) + 1
    activity.updated_at = utcnow()
    activity.updated_by_id = actor.id


def _new_activity(
    data: ActivityCreate,
    *,
    company_id: int,
    owner_id: int,
    type_id: int,
    actor_id: int,
    origin: str = "crm",
    read_only: bool = False,
    series_uid: str | None = None,
    occurrence_id: str | None = None,
    uuid: str | None = None,
) -> Activity:
    """The new row with every field of `data` (timing, participants and attendees are set apart)."""
    activity = Activity(
        company_id=company_id,
        owner_id=owner_id,
        type_id=type_id,
        subject=data.subject,
        busy=data.busy,
        done=data.done,
        location=data.location,
        public_description=data.public_description,
        note=data.note,
        deal_id=data.deal_id,
        person_id=data.person_id,
        org_id=data.org_id,
        conference_url=data.conference_meeting_url,
        visibility=data.visibility,
        private=data.private,
        read_only=read_only,
        series_uid=series_uid,
        occurrence_id=occurrence_id,
        origin=origin,
        version=1,
        created_by_id=actor_id,
        updated_by_id=actor_id,
    )
    if uuid:
        activity.uuid = uuid
    return activity


def create_activity(
    session: Session,
    actor: User,
    data: ActivityCreate,
    *,
    source: Source = "api",
    origin: str = "crm",
    read_only: bool = False,
    series_uid: str | None = None,
    occurrence_id: str | None = None,
    uuid: str | None = None,
) -> Activity:
    owner = actor
    if data.owner_id is not None and data.owner_id != actor.id:
        if not actor.is_admin:
            raise Invalid("only an admin can create an activity for another user", field="owner_id")
        owner = user_in_company(session, actor, data.owner_id)
    activity_type = type_by_key(session, actor.company_id, data.type)
    for field in ("deal_id", "person_id", "org_id"):
        linkable(session, actor, field, getattr(data, field))
    timing = build_timing(
        start=data.start, end=data.end, all_day=data.all_day, timezone=data.timezone, default_zone=owner.timezone
    )
    activity = _new_activity(
        data, company_id=actor.company_id, owner_id=owner.id, type_id=activity_type.id, actor_id=actor.id,
        origin=origin, read_only=read_only, series_uid=series_uid, occurrence_id=occurrence_id, uuid=uuid,
    )
    apply_timing(activity, timing)
    session.add(activity)
    _set_participants(session, actor, activity, data.participants)
    _set_attendees(session, activity, data.attendees)
    session.flush()
    if source != "sync":
        changes.announce(owner.id, activity.id)
    return activity


def create_activities_from_sync(
    session: Session, owner: User, items: list[tuple[ActivityCreate, dict[str, Any]]]
) -> list[Activity | CrmError]:
    """Many calendar imports at once (a sync's initial import): what create_activity does with
    source="sync" for each item, but the types and the attendees' persons are looked up once for
    the batch and all rows go in with one flush. `items` are (data, keyword arguments of
    create_activity such as origin/read_only/series_uid/occurrence_id). Per item it returns the
    new activity or the error that refused it (a refused item writes nothing). Items that link
    deals, persons or participants, or name another owner, take the one-by-one path."""
    types: dict[str, Any] = {}
    emails = sorted({str(a.email).lower() for data, _ in items for a in data.attendees})
    matches: dict[str, int] = {}
    for start in range(0, len(emails), 500):
        matches.update(_match_persons(session, owner.company_id, owner.id, emails[start:start + 500]))
    results: list[Activity | CrmError] = []
    for data, extra in items:
        try:
            if data.owner_id not in (None, owner.id) or data.deal_id or data.person_id or data.org_id or data.participants:
                results.append(create_activity(session, owner, data, source="sync", **extra))
                continue
            if data.type not in types:
                try:
                    types[data.type] = type_by_key(session, owner.company_id, data.type)
                except CrmError as exc:
                    types[data.type] = exc
            found = types[data.type]
            if isinstance(found, CrmError):
                raise found
            timing = build_timing(
                start=data.start, end=data.end, all_day=data.all_day, timezone=data.timezone, default_zone=owner.timezone
            )
            activity = _new_activity(
                data, company_id=owner.company_id, owner_id=owner.id, type_id=found.id, actor_id=owner.id, **extra
            )
            apply_timing(activity, timing)
            activity.attendees = _attendee_rows(_unique_attendees(data.attendees), matches)
            session.add(activity)
            results.append(activity)
        except CrmError as exc:
            results.append(exc)
    session.flush()
    return results


_TIMING_FIELDS = {"start", "end", "all_day", "timezone"}
_PLAIN_FIELDS = {
    "subject": "subject",
    "busy": "busy",
    "done": "done",
    "location": "location",
    "public_description": "public_description",
    "note": "note",
    "conference_meeting_url": "conference_url",
    "visibility": "visibility",
    "private": "private",
}


def _new_timing(activity: Activity, values: dict[str, Any], owner_zone: str) -> Timing:
    """Merges sent timing fields with the current ones; switching all_day needs new start/end."""
    all_day = values.get("all_day", activity.all_day)
    if all_day != activity.all_day and "start" not in values:
        raise Invalid("switching all_day needs a new start (and end) in the new form", field="start")
    if all_day:
        start = values.get("start") or activity.start_date.isoformat()  # type: ignore[union-attr]
        end = values.get("end") if "end" in values else (None if "start" in values else activity.end_date.isoformat())  # type: ignore[union-attr]
        return build_timing(start=start, end=end, all_day=True, timezone=None, default_zone=owner_zone)
    tz_name = values.get("timezone") or activity.timezone or owner_zone
    if "start" in values:
        start = values["start"]
        end = values.get("end")
        if end is None and activity.start_at and activity.end_at and not activity.all_day:
            duration = activity.end_at - activity.start_at
            begin = parse_instant(start, tz_name, "start")
            end = (begin + duration).isoformat()
    else:
        assert activity.start_at
        start = activity.start_at.isoformat()
        end = values.get("end") or (activity.end_at.isoformat() if activity.end_at else None)
    return build_timing(start=start, end=end, all_day=False, timezone=tz_name, default_zone=owner_zone)


def update_activity(
    session: Session,
    actor: User,
    activity_id: int,
    data: ActivityUpdate,
    *,
    source: Source = "api",
    expected_version: int | None = None,
) -> Activity:
    activity = get_activity(session, actor, activity_id)
    require_edit(actor, activity)
    if activity.read_only and source != "sync":
        raise Conflict(READ_ONLY_MESSAGE)
    if expected_version is not None:
        _claim_version(session, activity, expected_version)
    values = data.model_dump(exclude_unset=True)
    for key in ("subject", "type", "busy", "done", "visibility", "private", "all_day", "start"):
        if key in values and values[key] is None:
            raise Invalid(f"{key} cannot be null", field=key)
    previous_owner_id = activity.owner_id
    owner = session.get(User, activity.owner_id)
    assert owner is not None
    owner_changed = False
    if "owner_id" in values and values["owner_id"] is not None and values["owner_id"] != activity.owner_id:
        if not actor.is_admin:
            raise Invalid("only an admin can give an activity to another user", field="owner_id")
        owner = user_in_company(session, actor, values["owner_id"])
        activity.owner_id = owner.id
        owner_changed = True
    if "type" in values:
        activity.type_id = type_by_key(session, activity.company_id, values["type"]).id
    for field in ("deal_id", "person_id", "org_id"):
        if field in values:
            linkable(session, actor, field, values[field])
            setattr(activity, field, values[field])
    if _TIMING_FIELDS & values.keys():
        apply_timing(activity, _new_timing(activity, values, owner.timezone))
    for key, column in _PLAIN_FIELDS.items():
        if key in values and values[key] is not None:
            setattr(activity, column, values[key])
    if data.participants is not None:
        _set_participants(session, actor, activity, data.participants)
    if data.attendees is not None:
        _set_attendees(session, activity, data.attendees)
    elif owner_changed:
        _rematch_attendees(session, activity)
    _touch(activity, actor)
    session.flush()
    if source != "sync":
        changes.announce(activity.owner_id, activity.id)
        if previous_owner_id != activity.owner_id:
            # the old owner's calendar still holds the event: their sync must run now too
            changes.announce(previous_owner_id, activity.id)
    return activity


def delete_activity(
    session: Session, actor: User, activity_id: int, *, source: Source = "api", reason: str = CRM_REASON
) -> Activity:
    """Moves the activity to the trash (restorable for 30 days)."""
    activity = get_activity(session, actor, activity_id)
    require_edit(actor, activity)
    if activity.read_only and source != "sync":
        raise Conflict(READ_ONLY_MESSAGE)
    activity.deleted = True
    activity.deleted_at = utcnow()
    activity.deleted_reason = reason
    _touch(activity, actor)
    session.flush()
    if source != "sync":
        changes.announce(activity.owner_id, activity.id)
    return activity


def restore_activity(
    session: Session, actor: User, activity_id: int, *, now: dt.datetime | None = None, source: Source = "api"
) -> Activity:
    """Takes an activity out of the trash. An occurrence of a calendar series is refused (only sync
    brings it back, when the calendar does): restored here it would be read-only, unsynced and
    impossible to edit or delete."""
    activity = get_activity(session, actor, activity_id, include_deleted=True)
    require_edit(actor, activity)
    if not activity.deleted:
        raise Conflict(f"activity {activity_id} is not in the trash")
    if activity.read_only and source != "sync":
        raise Conflict(CANCELLED_OCCURRENCE_MESSAGE)
    now = now or utcnow()
    assert activity.deleted_at is not None
    if now - activity.deleted_at > dt.timedelta(days=TRASH_DAYS):
        raise Conflict(f"activity {activity_id} was deleted more than {TRASH_DAYS} days ago and cannot be restored")
    activity.deleted = False
    activity.deleted_at = None
    activity.deleted_reason = None
    _touch(activity, actor)
    session.flush()
    changes.announce(activity.owner_id, activity.id)
    return activity


def restore_activities(
    session: Session, actor: User, activity_ids: Sequence[int], *, now: dt.datetime | None = None
) -> tuple[list[Activity], list[tuple[int, str]]]:
    """Restores several activities, each by `restore_activity`'s rules; returns those restored
    and (id, why not) for the others. One refusal (a cancelled occurrence, one too old, one not
    the actor's) never stops the rest: `restore_activity` checks before it changes anything."""
    restored: list[Activity] = []
    refused: list[tuple[int, str]] = []
    for activity_id in dict.fromkeys(activity_ids):
        try:
            restored.append(restore_activity(session, actor, activity_id, now=now))
        except CrmError as exc:
            refused.append((activity_id, exc.message))
    return restored, refused


def restorable_ids(session: Session, owner: User, *, now: dt.datetime | None = None) -> list[int]:
    """Every activity of `owner` in the trash that can still be restored by hand (not cancelled
    occurrences), newest deletion first: what "Restore all" restores."""
    cutoff = (now or utcnow()) - dt.timedelta(days=TRASH_DAYS)
    return list(session.scalars(
        select(Activity.id).where(Activity.owner_id == owner.id, Activity.deleted.is_(True), Activity.deleted_at >= cutoff,
                                  Activity.read_only.is_(False)).order_by(Activity.deleted_at.desc(), Activity.id.desc())))


def purge_trash(session: Session, *, now: dt.datetime | None = None) -> int:
    """Removes activities trashed more than 30 days ago; returns how many."""
    cutoff = (now or utcnow()) - dt.timedelta(days=TRASH_DAYS)
    result = session.execute(delete(Activity).where(Activity.deleted.is_(True), Activity.deleted_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
