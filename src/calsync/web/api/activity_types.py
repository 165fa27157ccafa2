"""/api/v1/activityTypes (Pipedrive's path): everyone reads, admins add, change, deactivate."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from calsync.crm.schemas import ActivityTypeIn, ActivityTypeOut, ActivityTypeUpdate
from calsync.crm.services import activity_types as service
from calsync.store.tables import ActivityType, User
from calsync.web.api.envelope import respond
from calsync.web.api.params import ItemId
from calsync.web.deps import current_user, get_session

router = APIRouter(prefix="/api/v1/activityTypes", tags=["activity types"])


def _dump(found: ActivityType) -> dict:
    return ActivityTypeOut.model_validate(found, from_attributes=True).model_dump()


@router.get("", summary="All activity types of your company (active and deactivated)")
def list_types(session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    return respond([_dump(t) for t in service.list_types(session, viewer)])


@router.post("", status_code=201, summary="Add a custom type (admins)")
def add_type(data: ActivityTypeIn, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    created = service.add_type(session, viewer, data)
    session.commit()
    return respond(_dump(created), status_code=201)


@router.get("/{type_id}", summary="One activity type")
def get_type(type_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    return respond(_dump(service.get_type(session, viewer, type_id)))


@router.patch("/{type_id}", summary="Rename, recolor, (de)activate a type (admins)")
def update_type(
    type_id: ItemId, data: ActivityTypeUpdate, session: Session = Depends(get_session), viewer: User = Depends(current_user)
) -> Response:
    changed = service.update_type(session, viewer, type_id, data)
    session.commit()
    return respond(_dump(changed))


@router.delete("/{type_id}", summary="Deactivate a type (admins); its activities keep it")
def deactivate_type(type_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    changed = service.update_type(session, viewer, type_id, ActivityTypeUpdate(active=False))
    session.commit()
    return respond(_dump(changed))
