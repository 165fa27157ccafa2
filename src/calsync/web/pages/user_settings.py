"""Your settings: the signed-in user's name, time zone and password. A password change ends every
other session of the user and keeps this one (web/sessions.py `restamp`). The rules live in
`crm.services.users`, which the API uses too."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError
from calsync.crm.services import users
from calsync.crm.timing import zone_names
from calsync.store.tables import User
from calsync.web import sessions
from calsync.web.deps import get_session
from calsync.web.i18n import _l
from calsync.web.pages.rendering import page_user, render, see_other

router = APIRouter(include_in_schema=False)
PATH = "/settings/profile"
SAVED = ("profile", "password")  # which "saved" note the page shows after a redirect


def _page(request: Request, user: User, *, status_code: int = 200, **values: object) -> HTMLResponse:
    values.setdefault("form", {"name": user.name, "timezone": user.timezone})
    values.setdefault("profile_error", None)
    values.setdefault("password_error", None)
    values.setdefault("saved", None)
    return render(request, "user_settings.html", user, status_code=status_code, zones=zone_names(), **values)


@router.get(PATH)
def settings_page(request: Request, saved: str | None = None, user: User = Depends(page_user)) -> HTMLResponse:
    return _page(request, user, saved=saved if saved in SAVED else None)


@router.post(PATH)
def save_profile(request: Request, name: str = Form(""), timezone: str = Form(""),
                 user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
    form = {"name": name, "timezone": timezone}
    try:
        users.update_profile(session, user, name=name, timezone=timezone)
        session.commit()
    except CrmError as exc:
        session.rollback()
        session.refresh(user)
        return _page(request, user, form=form, profile_error=exc.message, status_code=exc.status)
    return see_other(PATH + "?saved=profile")


@router.post("/settings/password")
def change_password(request: Request, current_password: str = Form(""), new_password: str = Form(""),
                    new_password_again: str = Form(""), user: User = Depends(page_user),
                    session: Session = Depends(get_session)) -> Response:
    if new_password != new_password_again:
        return _page(request, user, password_error=_l("The two new passwords differ: type the same one twice."),
                     status_code=422)
    try:
        users.change_own_password(session, user, current_password, new_password,
                                  keep=sessions.current_row_id(request))
        sessions.restamp(request, session, user)
        session.commit()
    except CrmError as exc:
        session.rollback()
        session.refresh(user)
        return _page(request, user, password_error=exc.message, status_code=exc.status)
    return see_other(PATH + "?saved=password")
