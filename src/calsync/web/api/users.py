"""/api/v1/users: the people of your company (for owner pickers) and yourself."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import NotFound
from calsync.crm.schemas import UserOut
from calsync.crm.services import accounts
from calsync.store.tables import User
from calsync.web.api.envelope import respond
from calsync.web.api.params import ItemId
from calsync.web.deps import current_user, get_session

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _dump(user: User) -> dict:
    return UserOut.model_validate(user, from_attributes=True).model_dump()


@router.get("", summary="Users of your company")
def list_users(session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    return respond([_dump(u) for u in accounts.company_users(session, viewer)])


@router.get("/me", summary="The signed-in user")
def me(viewer: User = Depends(current_user)) -> Response:
    return respond(_dump(viewer))


@router.get("/{user_id}", summary="One user of your company")
def get_user(user_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    found = session.get(User, user_id)
    if found is None or found.company_id != viewer.company_id:
        raise NotFound(f"there is no user {user_id} in your company")
    return respond(_dump(found))
