"""Admin › Users: the company's users; admins add them (initial password or invite link), make or
unmake admins, deactivate and reactivate, and reset passwords. Others get a 403 page that says so.
Every change goes through `crm.services.users`, which holds the rules (admins only, own company,
never without an admin); a set-password link is shown once, to the admin who made it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError, Forbidden
from calsync.crm.services import users
from calsync.crm.timing import zone_names
from calsync.store.tables import User
from calsync.web.api.params import ItemId
from calsync.web.api.users import link_url
from calsync.web.context import AppContext
from calsync.web.deps import get_context, get_session
from calsync.web.pages.rendering import page_user, render, see_other

router = APIRouter(include_in_schema=False)
PATH = "/admin/users"
FLASH = "users_flash"  # what the last change did (a kind the template words), shown once after the redirect


def _page(request: Request, user: User, session: Session, *, status_code: int = 200, **values: object) -> HTMLResponse:
    if not user.is_admin:
        return render(request, "admin_users.html", user, status_code=403, forbidden=True)
    values.setdefault("form", {"timezone": user.timezone, "how": "invite"})
    values.setdefault("error", None)
    values.setdefault("flash", None)
    return render(request, "admin_users.html", user, status_code=status_code, forbidden=False,
                  people=users.company_users(session, user), status_of=users.status, zones=zone_names(), **values)


def _done(request: Request, kind: str, target: User, link: str | None = None) -> Response:
    """Remembers what was done for the page after the redirect (kinds: see admin_users.html)."""
    hours = int(users.LINK_LIFETIME[users.status(target)].total_seconds() // 3600) if link else None
    request.session[FLASH] = {"kind": kind, "email": target.email, "link": link, "hours": hours}
    return see_other(PATH)


def _refused(request: Request, user: User, session: Session, exc: CrmError, **values: object) -> HTMLResponse:
    session.rollback()
    if isinstance(exc, Forbidden):
        return _page(request, user, session)
    session.refresh(user)
    return _page(request, user, session, error=exc.message, status_code=exc.status, **values)


@router.get(PATH)
def users_page(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    return _page(request, user, session, flash=request.session.pop(FLASH, None))


@router.post(PATH)
def add_user(request: Request, email: str = Form(""), name: str = Form(""), timezone: str = Form("UTC"),
             is_admin: str | None = Form(None), how: str = Form("invite"), password: str = Form(""),
             user: User = Depends(page_user), session: Session = Depends(get_session),
             context: AppContext = Depends(get_context)) -> Response:
    form = {"email": email, "name": name, "timezone": timezone, "is_admin": is_admin == "on", "how": how}
    try:
        added = users.add_user(session, context.box, user, email=email, name=name or None, timezone=timezone.strip(),
                               is_admin=is_admin == "on", password=password if how == "password" else None,
                               now=context.clock())
        session.commit()
    except CrmError as exc:
        return _refused(request, user, session, exc, form=form)
    if added.link_token:
        return _done(request, "invited", added.user, link_url(request, context, added.link_token))
    return _done(request, "added", added.user)


@router.post(PATH + "/{user_id}/admin")
def change_admin(request: Request, user_id: ItemId, make: str = Form(...), user: User = Depends(page_user),
                 session: Session = Depends(get_session)) -> Response:
    try:
        target = users.managed_user(session, user, user_id)
        users.set_admin(session, target, make == "yes")
        session.commit()
    except CrmError as exc:
        return _refused(request, user, session, exc)
    return _done(request, "admin" if target.is_admin else "not_admin", target)


@router.post(PATH + "/{user_id}/active")
def change_active(request: Request, user_id: ItemId, make: str = Form(...), user: User = Depends(page_user),
                  session: Session = Depends(get_session)) -> Response:
    try:
        target = users.managed_user(session, user, user_id)
        users.set_active(session, target, make == "yes", actor=user)
        session.commit()
    except CrmError as exc:
        return _refused(request, user, session, exc)
    return _done(request, "reactivated" if target.active else "deactivated", target)


@router.post(PATH + "/{user_id}/reset-password")
def reset_password(request: Request, user_id: ItemId, password: str = Form(""), user: User = Depends(page_user),
                   session: Session = Depends(get_session), context: AppContext = Depends(get_context)) -> Response:
    try:
        target = users.managed_user(session, user, user_id)
        token = users.reset_password(session, context.box, target, password=password or None, now=context.clock())
        session.commit()
    except CrmError as exc:
        return _refused(request, user, session, exc)
    if token:
        return _done(request, "reset_link", target, link_url(request, context, token))
    return _done(request, "reset", target)
