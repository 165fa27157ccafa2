"""Sign in, sign out, and `/` (calendar when signed in, sign-in page otherwise)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import Unauthorized
from calsync.crm.services.accounts import authenticate
from calsync.web import sessions
from calsync.web.deps import get_session
from calsync.web.i18n import _l
from calsync.web.pages.csrf import token_for, token_matches
from calsync.web.pages.login_limit import LoginLimiter, attempt_keys, limiter_for, lock_message
from calsync.web.pages.rendering import render, see_other

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only local paths: an open redirect after sign-in would help phishing."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/calendar"


def _limiter(request: Request) -> LoginLimiter:
    return limiter_for(request.app.state.context)


@router.get("/")
def home(request: Request, session: Session = Depends(get_session)) -> RedirectResponse:
    user = sessions.signed_in_user(request, session)
    return RedirectResponse("/calendar" if user is not None else "/login", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), email="", error=None)


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/calendar"),
    session: Session = Depends(get_session),
) -> Response:
    def again(message: object, status: int) -> HTMLResponse:
        return render(request, "login.html", next=_safe_next(next), email=email, error=message, status_code=status)

    if not token_matches(request.session, csrf_token):
        token_for(request.session)
        return again(_l("The sign-in form had expired. Please sign in again."), 403)
    limiter = _limiter(request)
    key_email, key_client = attempt_keys(email, request.client.host if request.client else None)
    wait = limiter.seconds_locked(key_email, key_client)
    if wait:
        return again(lock_message(wait), 429)
    try:
        user = authenticate(session, email, password)
    except Unauthorized:
        limiter.failed(key_email, key_client)
        return again(_l("Wrong e-mail or password."), 401)
    limiter.succeeded(key_email)
    sessions.start(request, session, user)  # a fresh session (and CSRF token) after sign-in: no fixation
    token_for(request.session)
    return see_other(_safe_next(next))


@router.get("/logout")
def logout_page(request: Request, session: Session = Depends(get_session)) -> Response:
    """Signing out changes state, so it is a POST; a typed /logout gets the button for it."""
    user = sessions.signed_in_user(request, session)
    if user is None:
        return see_other("/login")
    return render(request, "logout.html", user)


@router.post("/logout")
def logout(request: Request, session: Session = Depends(get_session)) -> RedirectResponse:
    # The CSRF middleware has checked the token already (the session is signed in).
    sessions.end(request, session)
    return see_other("/login")
