"""The page behind an invite or reset link: the user chooses a password and is signed in. The link
works once and for a limited time (`crm.services.users.password_link`); a used, replaced or late
link answers 404 with what to do. No session exists yet, so the form checks its CSRF token itself,
as the sign-in form does."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError, NotFound
from calsync.crm.services import users
from calsync.web import sessions
from calsync.web.context import AppContext
from calsync.web.deps import get_context, get_session
from calsync.web.i18n import _l
from calsync.web.pages.csrf import token_for, token_matches
from calsync.web.pages.rendering import render, see_other

router = APIRouter(include_in_schema=False)


def _form(request: Request, token: str, email: str, *, error: object = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "set_password.html", token=token, email=email, error=error, gone=False, status_code=status_code)


def _gone(request: Request, exc: CrmError) -> HTMLResponse:
    return render(request, "set_password.html", token="", email="", error=None, gone=True, status_code=exc.status)


@router.get(users.SET_PASSWORD_PATH + "{token}")
def set_password_form(request: Request, token: str, session: Session = Depends(get_session),
                      context: AppContext = Depends(get_context)) -> HTMLResponse:
    try:
        user = users.user_for_link(session, context.box, token, context.clock())
    except NotFound as exc:
        return _gone(request, exc)
    token_for(request.session)
    return _form(request, token, user.email)


@router.post(users.SET_PASSWORD_PATH + "{token}")
def set_password(request: Request, token: str, password: str = Form(""), password_again: str = Form(""),
                 csrf_token: str = Form(""), session: Session = Depends(get_session),
                 context: AppContext = Depends(get_context)) -> Response:
    try:
        user = users.user_for_link(session, context.box, token, context.clock())
    except NotFound as exc:
        return _gone(request, exc)
    if not token_matches(request.session, csrf_token):
        token_for(request.session)
        return _form(request, token, user.email, error=_l("The form had expired. Please type your password again."),
                     status_code=403)
    if password != password_again:
        return _form(request, token, user.email, error=_l("The two passwords differ: type the same one twice."),
                     status_code=422)
    try:
        users.set_password_by_link(session, context.box, token, password, context.clock())
    except CrmError as exc:
        session.rollback()
        return _form(request, token, user.email, error=exc.message, status_code=exc.status)
    sessions.start(request, session, user)  # commits; a fresh session and CSRF token (no fixation)
    token_for(request.session)
    return see_other("/calendar")
