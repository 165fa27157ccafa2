"""/api/v1/users: the people of your company (for owner pickers), your own settings and password,
and for admins adding, inviting, deactivating, admin rights and password resets. The rules live in
`crm.services.users`; this module only speaks HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import NotFound
from calsync.crm.schemas import PasswordChange, PasswordReset, ProfileUpdate, UserCreate, UserOut, UserUpdate
from calsync.crm.services import accounts, users
from calsync.store.tables import User
from calsync.web import sessions
from calsync.web.api.envelope import respond
from calsync.web.api.params import ItemId
from calsync.web.context import AppContext
from calsync.web.credentials import presented_api_token
from calsync.web.deps import current_user, get_context, get_session

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def dump(user: User) -> dict:
    data = UserOut.model_validate(user, from_attributes=True).model_dump()
    data["status"] = users.status(user)
    return data


def link_url(request: Request, context: AppContext, token: str) -> str:
    """The full set-password address: the configured base URL, else the one this request came to
    (the link is shown only to the admin who asked, never sent anywhere by us)."""
    base = context.settings.base_url or str(request.base_url)
    return base.rstrip("/") + users.link_path(token)


@router.get("", summary="Users of your company")
def list_users(session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    return respond([dump(u) for u in accounts.company_users(session, viewer)])


@router.get("/me", summary="The signed-in user")
def me(viewer: User = Depends(current_user)) -> Response:
    return respond(dump(viewer))


@router.patch("/me", summary="Change your name or time zone")
def update_me(data: ProfileUpdate, session: Session = Depends(get_session),
              viewer: User = Depends(current_user)) -> Response:
    users.update_profile(session, viewer, name=data.name, timezone=data.timezone)
    session.commit()
    return respond(dump(viewer))


@router.post("/me/password", summary="Change your password (ends your other sessions)")
def change_password(data: PasswordChange, request: Request, session: Session = Depends(get_session),
                    viewer: User = Depends(current_user)) -> Response:
    # A request that names an API token is not the browser session, whatever cookie it carries.
    this_one = None if presented_api_token(request.scope) else sessions.current_row_id(request)
    users.change_own_password(session, viewer, data.current_password, data.new_password, keep=this_one)
    if this_one:
        sessions.restamp(request, session, viewer)
    session.commit()
    return respond(dump(viewer))


@router.post("", status_code=201, summary="Add a user to your company, with a password or an invite link (admins)")
def add_user(data: UserCreate, request: Request, session: Session = Depends(get_session),
             viewer: User = Depends(current_user), context: AppContext = Depends(get_context)) -> Response:
    added = users.add_user(session, context.box, viewer, email=data.email, name=data.name, timezone=data.timezone,
                           is_admin=data.is_admin, password=data.password, now=context.clock())
    session.commit()
    body = dump(added.user)
    if added.link_token:
        body["invite_url"] = link_url(request, context, added.link_token)
    return respond(body, status_code=201)


@router.get("/{user_id}", summary="One user of your company")
def get_user(user_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
    found = session.get(User, user_id)
    if found is None or found.company_id != viewer.company_id:
        raise NotFound(f"there is no user {user_id} in your company")
    return respond(dump(found))


@router.patch("/{user_id}", summary="Make or unmake admin, deactivate or reactivate a user (admins)")
def update_user(user_id: ItemId, data: UserUpdate, session: Session = Depends(get_session),
                viewer: User = Depends(current_user)) -> Response:
    target = users.managed_user(session, viewer, user_id)
    if data.is_admin is not None:
        users.set_admin(session, target, data.is_admin)
    if data.active is not None:
        users.set_active(session, target, data.active, actor=viewer)
    session.commit()
    return respond(dump(target))


@router.post("/{user_id}/reset-password", summary="Reset a user's password: a new one, or a link to set one (admins)")
def reset_password(user_id: ItemId, data: PasswordReset, request: Request, session: Session = Depends(get_session),
                   viewer: User = Depends(current_user), context: AppContext = Depends(get_context)) -> Response:
    target = users.managed_user(session, viewer, user_id)
    token = users.reset_password(session, context.box, target, password=data.password, now=context.clock())
    session.commit()
    body = dump(target)
    if token:
        body["reset_url"] = link_url(request, context, token)
    return respond(body)
