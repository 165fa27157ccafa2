"""/api/v1/activities: create, read, change, trash, restore, and the filtered list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi import Response
from sqlalchemy.orm import Session

from calsync.crm.errors import Invalid
from calsync.crm.schemas import ActivityCreate, ActivityUpdate
from calsync.crm.services import activities as service
from calsync.crm.services import activity_queries as queries
from calsync.crm.services.activity_types import type_by_key
from calsync.crm.timing import parse_instant
from calsync.store.tables import User
from calsync.web.api.envelope import respond
from calsync.web.api.params import ItemId, clean_text, parse_bool, parse_limit, parse_owner
from calsync.web.deps import current_user, get_session

router = APIRouter(prefix="/api/v1/activities", tags=["activities"])
LIST_LIMIT = 500


def _one(session: Session, viewer: User, activity) -> Response:  # type: ignore[no-untyped-def]
    return respond(queries.present(session, viewer, [activity])[0])


@router.get("", summary="List activities (filters, cursor pagination)")
def list_activities(
    owner_id: str | None = Query(None, description="a user id, or `everyone`; default: your own activities (as Pipedrive)"),
    type: str | None = Query(None, description="activity type key(s), comma-separated"),
    done: str | None = Query(None, description="1/true or 0/false"),
    start_date: str | None = Query(None, description="range start: a date (viewer's zone) or ISO date-time"),
    end_date: str | None = Query(None, description="range end (exclusive)"),
    updated_since: str | None = Query(None, description="ISO date-time; sorts by update time"),
    timezone: str | None = Query(None, description="zone for dates; default the viewer's"),
    cursor: str | None = Query(None, description="additional_data.next_cursor of the previous page"),
    limit: str | None = Query(None, description=f"1..{LIST_LIMIT}, default 100"),
    session: Session = Depends(get_session),
    viewer: User = Depends(current_user),
) -> Response:
    # Absent owner_id means the caller's own activities (Pipedrive's default); `everyone` means all.
    owner = viewer if owner_id is None or not owner_id.strip() else queries.owner_filter(session, viewer, parse_owner(owner_id))
    filters = queries.ListFilters(
        owner=owner,
        done=parse_bool(done, "done"),
    )
    if type is not None:
        keys = [k.strip() for k in (clean_text(type, "type") or "").split(",") if k.strip()]
        filters.type_ids = [type_by_key(session, viewer.company_id, k, active_only=False).id for k in keys]
    if start_date or end_date:
        if not (start_date and end_date):
            raise Invalid("give both start_date and end_date (end exclusive), or neither", field="end_date" if start_date else "start_date")
        filters.range = queries.resolve_range(
            clean_text(start_date, "start_date") or "", clean_text(end_date, "end_date") or "",
            clean_text(timezone, "timezone") or viewer.timezone, max_span=None,
        )
    if updated_since:
        filters.updated_since = parse_instant(clean_text(updated_since, "updated_since") or "", "UTC", "updated_since")
    page = queries.list_activities(
        session, viewer, filters, limit=parse_limit(limit, 100, LIST_LIMIT), cursor=clean_text(cursor, "cursor", 500)
    )
    return respond(
        queries.present_rows(session, viewer, page.activities),
        next_cursor=page.next_cursor,
        more_items_in_collection=page.next_cursor is not None,
        sort=page.sort,
    )


@router.get("/trash", summary="Trashed activities (restorable for 30 days)")
def list_trash(
    owner_id: str | None = Query(None, description="a user id, or `everyone` (default)"),
    cursor: str | None = Query(None),
    limit: str | None = Query(None, description=f"1..{LIST_LIMIT}, default 100"),
    session: Session = Depends(get_session),
    viewer: User = Depends(current_user),
) -> Response:
    page = queries.trash(
        session, viewer, owner=queries.owner_filter(session, viewer, parse_owner(owner_id)),
        limit=parse_limit(limit, 100, LIST_LIMIT), cursor=clean_text(cursor, "cursor", 500),
    )
    return respond(
        queries.present_rows(session, viewer, page.activities),
        next_cursor=page.next_cursor,
        more_items_in_collection=page.next_cursor is not None,
        restorable_days=service.TRASH_DAYS,
    )


RESTORE_MANY_LIMIT = 500


def _restore_request(payload: Any) -> tuple[list[int] | None, bool]:
    """`{"ids": [..]}` or `{"all": true}`, nothing else (a clear 422 for anything that is not)."""
    if not isinstance(payload, dict):
        raise Invalid('the body must be a JSON object: {"ids": [1, 2]} or {"all": true}', field="body")
    unknown = sorted(set(payload) - {"ids", "all"})
    if unknown:
        raise Invalid(f"{unknown[0]}: is not a field here: send ids or all", field=unknown[0])
    everything = payload.get("all", False)
    if not isinstance(everything, bool):
        raise Invalid("all must be true or false", field="all")
    ids = payload.get("ids")
    if everything == (ids is not None):
        raise Invalid('send either "ids" (the activities to restore) or "all": true', field="ids" if ids is not None else "all")
    if ids is None:
        return None, True
    if not isinstance(ids, list) or not ids or len(ids) > RESTORE_MANY_LIMIT \
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids):
        raise Invalid(f"ids must be a list of 1 to {RESTORE_MANY_LIMIT} activity ids", field="ids")
    return ids, False


@router.post("/trash/restore", summary="Restore several activities, or all of yours, from the trash")
def restore_many(
    payload: Any = Body(None), session: Session = Depends(get_session), viewer: User = Depends(current_user)
) -> Response:
    """`{"ids": [..]}` restores those; `{"all": true}` every activity of yours in the trash that can
    be restored (cancelled occurrences come back only with their calendar event). Each is
    restored or refused on its own; the answer says which."""
    ids, everything = _restore_request(payload)
    if everything:
        ids = service.restorable_ids(session, viewer)
    restored, refused = service.restore_activities(session, viewer, ids or [])
    session.commit()
    return respond({
        "restored": [a.id for a in restored],
        "refused": [{"id": activity_id, "error": message} for activity_id, message in refused],
    })


@router.post("", status_code=201, summary="Create an activity")
def create_activity(
    data: ActivityCreate, session: Session = Depends(get_session), viewer: User = Depends(current_user)
) -> Response:
    activity = service.create_activity(session, viewer, data, source="api")
    session.commit()
    return respond(queries.present(session, viewer, [activity])[0], status_code=201)


@router.get("/{activity_id}", summary="One activity")
def get_activity(
    activity_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)
) -> Response:
    return _one(session, viewer, service.get_activity(session, viewer, activity_id))


@router.patch("/{activity_id}", summary="Change an activity (only the fields sent)")
@router.put("/{activity_id}", summary="Same as PATCH (Pipedrive v1 clients send PUT with the changed fields)")
def update_activity(
    activity_id: ItemId,
    data: ActivityUpdate,
    session: Session = Depends(get_session),
    viewer: User = Depends(current_user),
) -> Response:
    activity = service.update_activity(session, viewer, activity_id, data, source="api")
    session.commit()
    return _one(session, viewer, activity)


@router.delete("/{activity_id}", summary="Move an activity to the trash")
def delete_activity(
    activity_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)
) -> Response:
    activity = service.delete_activity(session, viewer, activity_id, source="api")
    session.commit()
    return respond({"id": activity.id, "deleted_at": activity.deleted_at.isoformat() if activity.deleted_at else None})


@router.post("/{activity_id}/restore", summary="Restore an activity from the trash")
def restore_activity(
    activity_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)
) -> Response:
    activity = service.restore_activity(session, viewer, activity_id)
    session.commit()
    return _one(session, viewer, activity)
