"""The activity editor: create, edit and delete with every field (timing, type incl. custom
ones, deal/person/organization links, participants, attendees, visibility, privacy). Writes go
through `crm.services.activities` with source="ui"; the page shows what `present` returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError
from calsync.crm.schemas import ActivityCreate, ActivityOut, ActivityUpdate
from calsync.crm.services import activities as activity_service
from calsync.crm.services.activity_queries import present
from calsync.store.tables import Deal, Organization, Person, User
from calsync.web.api.params import ItemId
from calsync.web.deps import get_session
from calsync.web.pages.rendering import page_user, render, see_other
from calsync.web.pages.views import ids, item_names, lookups

router = APIRouter(include_in_schema=False)

COMMON_ZONES = [
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Helsinki", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore",
    "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "Pacific/Honolulu", "Pacific/Kiritimati",
]


def _blank_form(user: User, request: Request) -> dict[str, Any]:
    """A new activity's form: from the calendar's selection (?start=&end=&all_day=) or the next hour."""
    tz = ZoneInfo(user.timezone)
    params = request.query_params
    now = dt.datetime.now(tz).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start, end = now, now + dt.timedelta(minutes=30)
    all_day = params.get("all_day") == "true"
    def read(value: str) -> dt.datetime:
        """A date, or a date-time (wall clock in the user's zone unless it has an offset)."""
        parsed = dt.datetime.fromisoformat(value if "T" in value else value + "T00:00")
        return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed.astimezone(tz)

    try:
        if params.get("start"):
            start = read(params["start"])
        if params.get("end"):
            end = read(params["end"]) - (dt.timedelta(days=1) if all_day else dt.timedelta(0))
        elif params.get("start"):
            end = start + (dt.timedelta(0) if all_day else dt.timedelta(minutes=30))
    except ValueError:
        pass
    return dict(
        subject="", type=params.get("type", "task"), owner_id=user.id, all_day=all_day,
        start_date=start.date().isoformat(), start_time=start.strftime("%H:%M"),
        end_date=end.date().isoformat(), end_time=end.strftime("%H:%M"), timezone=user.timezone,
        busy=True, done=False, location="", public_description="", note="",
        **{key: (ids([params.get(key, "")]) or [None])[0] for key in ("deal_id", "person_id", "org_id")},
        participants=[], attendees=[], conference_meeting_url="", visibility="everyone", private=False,
    )


def _form_from(item: ActivityOut) -> dict[str, Any]:
    if item.all_day:
        last = dt.date.fromisoformat(item.end) - dt.timedelta(days=1)
        timing = dict(start_date=item.start, start_time="09:00", end_date=last.isoformat(), end_time="10:00")
    else:
        timing = dict(start_date=item.start[:10], start_time=item.start[11:16], end_date=item.end[:10], end_time=item.end[11:16])
    return dict(
        subject=item.subject, type=item.type, owner_id=item.owner_id, all_day=item.all_day, timezone=item.timezone or "UTC",
        busy=item.busy, done=item.done, location=item.location, public_description=item.public_description, note=item.note,
        deal_id=item.deal_id, person_id=item.person_id, org_id=item.org_id,
        participants=[p.person_id for p in item.participants],
        attendees=[a.model_dump() for a in item.attendees],
        conference_meeting_url=item.conference_meeting_url, visibility=item.visibility, private=item.private, **timing,
    )


async def _read_form(request: Request) -> dict[str, Any]:
    """The posted form as the editor's values (strings as typed, lists for the repeated fields)."""
    form = await request.form()
    get = lambda key: str(form.get(key) or "").strip()  # noqa: E731
    emails, names, statuses = form.getlist("att_email"), form.getlist("att_name"), form.getlist("att_status")
    organizer = get("att_organizer")
    attendees = []
    for index, email in enumerate(emails):
        if str(email).strip():
            attendees.append(dict(
                email=str(email).strip(), name=str(names[index]).strip() if index < len(names) else "",
                status=str(statuses[index]) if index < len(statuses) else "needs_action",
                is_organizer=organizer == str(index),
            ))
    number = lambda key: int(get(key)) if get(key).isdigit() else None  # noqa: E731
    return dict(
        subject=get("subject"), type=get("type") or "task", owner_id=number("owner_id"), all_day=bool(form.get("all_day")),
        start_date=get("start_date"), start_time=get("start_time") or "09:00", end_date=get("end_date") or get("start_date"),
        end_time=get("end_time") or get("start_time") or "09:00", timezone=get("timezone") or "UTC",
        busy=bool(form.get("busy")), done=bool(form.get("done")), location=get("location"),
        public_description=get("public_description"), note=get("note"),
        deal_id=number("deal_id"), person_id=number("person_id"), org_id=number("org_id"),
        participants=[int(v) for v in form.getlist("participants") if str(v).isdigit()],
        attendees=attendees, conference_meeting_url=get("conference_meeting_url"),
        visibility=get("visibility") if get("visibility") in ("everyone", "owner") else "everyone", private=bool(form.get("private")),
    )


def _payload(values: dict[str, Any], user: User) -> dict[str, Any]:
    """The service's input from the form: an inclusive end date becomes the exclusive one."""
    if values["all_day"]:
        try:
            end = (dt.date.fromisoformat(values["end_date"]) + dt.timedelta(days=1)).isoformat()
        except ValueError:
            end = values["end_date"]
        timing = dict(start=values["start_date"], end=end, all_day=True, timezone=None)
    else:
        timing = dict(
            start=f"{values['start_date']}T{values['start_time']}", end=f"{values['end_date']}T{values['end_time']}",
            all_day=False, timezone=values["timezone"],
        )
    payload = dict(
        subject=values["subject"], type=values["type"], busy=values["busy"], done=values["done"],
        location=values["location"], public_description=values["public_description"], note=values["note"],
        deal_id=values["deal_id"], person_id=values["person_id"], org_id=values["org_id"],
        participants=[{"person_id": p} for p in values["participants"]], attendees=values["attendees"],
        conference_meeting_url=values["conference_meeting_url"], visibility=values["visibility"], private=values["private"],
        **timing,
    )
    if user.is_admin and values["owner_id"]:
        payload["owner_id"] = values["owner_id"]
    return payload


def _validation_message(exc: ValidationError) -> tuple[str, str]:
    item = exc.errors()[0]
    loc = [str(p) for p in item.get("loc", ())]
    field = loc[0] if loc else "form"
    label = {"subject": "Subject", "attendees": "Attendees", "start": "Start", "end": "End"}.get(field, field)
    message = item.get("msg", "is not valid")
    if field == "attendees" and len(loc) > 2:
        message = f"attendee {int(loc[1]) + 1}: {message}"
    return f"{label}: {message}", field


def _picked(session: Session, user: User, values: dict[str, Any]) -> dict[str, dict[int, str]]:
    """The names the type-ahead pickers start with: the linked items the user may see."""
    return {
        field: item_names(session, user, model, {values[field]} if values.get(field) else set())
        for field, model in (("deal_id", Deal), ("person_id", Person), ("org_id", Organization))
    }


def _participants(session: Session, user: User, chosen: list[int]) -> list[tuple[int, str]]:
    """(id, name) of the activity's participants, in order; one the user may not see keeps its
    id (so saving does not drop it) but not its name."""
    names = item_names(session, user, Person, set(chosen))
    return [(pid, names.get(pid, "a person you cannot see")) for pid in chosen]


def _page(request: Request, user: User, session: Session, *, values: dict[str, Any], item: ActivityOut | None,
          error: str | None = None, error_field: str | None = None, saved: bool = False, status_code: int = 200) -> HTMLResponse:
    look = lookups(session, user, [item] if item else [])
    editable = item is None or (not item.redacted and not item.read_only and item.owner_id == user.id) or (
        item is not None and not item.redacted and not item.read_only and user.is_admin and not item.private
    )
    zones = COMMON_ZONES if values.get("timezone") in COMMON_ZONES else [values.get("timezone") or "UTC", *COMMON_ZONES]
    return render(
        request, "editor.html", user, status_code=status_code, v=values, item=item, look=look, error=error,
        error_field=error_field, saved=saved, editable=editable, zones=zones,
        participants=_participants(session, user, values["participants"]), picked=_picked(session, user, values),
    )


@router.get("/activities/new")
def new_form(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    return _page(request, user, session, values=_blank_form(user, request), item=None)


Result = TypeVar("Result")


def _write(session: Session, action: Callable[[], Result]) -> tuple[Result | None, tuple[str, str] | None]:
    """Runs one write of the editor and commits it. Returns its result, or (on refusal, rolled
    back) the message and the field at fault for the form to show."""
    try:
        result = action()
        session.commit()
        return result, None
    except ValidationError as exc:
        session.rollback()
        return None, _validation_message(exc)
    except CrmError as exc:
        session.rollback()
        return None, (exc.message, exc.field or "")


@router.post("/activities/new")
async def create(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
    values = await _read_form(request)
    activity, refused = _write(
        session, lambda: activity_service.create_activity(session, user, ActivityCreate(**_payload(values, user)), source="ui")
    )
    if refused is None:
        assert activity is not None
        return see_other(f"/activities/{activity.id}?saved=1")
    message, field = refused
    return _page(request, user, session, values=values, item=None, error=message, error_field=field, status_code=422)


def _item(session: Session, user: User, activity_id: int) -> ActivityOut:
    return present(session, user, [activity_service.get_activity(session, user, activity_id)])[0]


@router.get("/activities/{activity_id}")
def edit_form(request: Request, activity_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    try:
        item = _item(session, user, activity_id)
    except CrmError as exc:
        return render(request, "not_found.html", user, message=exc.message, status_code=exc.status)
    return _page(request, user, session, values=_form_from(item), item=item, saved=request.query_params.get("saved") == "1")


@router.post("/activities/{activity_id}")
async def save(request: Request, activity_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
    values = await _read_form(request)
    _, refused = _write(session, lambda: activity_service.update_activity(
        session, user, activity_id, ActivityUpdate(**_payload(values, user)), source="ui"
    ))
    if refused is None:
        return see_other(f"/activities/{activity_id}?saved=1")
    message, field = refused
    try:
        item = _item(session, user, activity_id)
    except CrmError as exc:
        return render(request, "not_found.html", user, message=exc.message, status_code=exc.status)
    return _page(request, user, session, values=values, item=item, error=message, error_field=field, status_code=422)


@router.post("/activities/{activity_id}/delete")
def delete(request: Request, activity_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
    try:
        activity_service.delete_activity(session, user, activity_id, source="ui")
        session.commit()
    except CrmError as exc:
        session.rollback()
        try:
            item = _item(session, user, activity_id)
        except CrmError:
            return render(request, "not_found.html", user, message=exc.message, status_code=exc.status)
        return _page(request, user, session, values=_form_from(item), item=item, error=exc.message, status_code=exc.status)
    return see_other("/activities")
