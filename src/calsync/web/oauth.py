"""OAuth connect for Google Calendar: `GET /oauth/google/start` and `/oauth/google/callback`.

Start (signed-in user): draws a random `state` and PKCE verifier, keeps them encrypted in the
session cookie together with the user's id and the time, and sends the browser to Google's
consent. Callback: accepts the answer only for the same signed-in user, with the same `state`,
within STATE_SECONDS; trades the code (with the verifier) for tokens, stores them encrypted
through the one connect path (`sync.accounts.connect`) and returns to Settings › Calendar sync,
where the user picks the calendar. Every failure is a page that says what to do, never a 500."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError
from calsync.store.tables import User
from calsync.sync import accounts, registry
from calsync.sync.provider import ConnectError
from calsync.web.context import AppContext
from calsync.web.deps import get_session
from calsync.web.pages.rendering import page_user, render

STATE_SECONDS = 600
SESSION_KEY = "google_oauth"
SETTINGS_PAGE = "/settings/calendar-sync"
NAME = "Google Calendar"

router = APIRouter(include_in_schema=False)
now = time.time  # the clock the state's age is measured with (tests move it)


def _context(request: Request) -> AppContext:
    return request.app.state.context  # type: ignore[no-any-return]


def _failed(request: Request, user: User, message: str, status: int = 400) -> HTMLResponse:
    return render(request, "oauth_error.html", user, status_code=status, provider=NAME, message=message)


def _factory() -> Any:
    try:
        return registry.get("google")
    except KeyError:
        return None


@router.get("/oauth/google/start")
def start(request: Request, user: User = Depends(page_user)) -> Response:
    factory = _factory()
    try:
        if factory is None:
            raise ConnectError("Google Calendar is not available on this server")
        oauth = factory.oauth()
    except ConnectError as exc:
        return _failed(request, user, exc.message)
    from calsync.providers.google.auth import new_pkce

    state, verifier = new_pkce()
    pending = {"user": user.id, "state": state, "verifier": verifier, "at": now()}
    request.session[SESSION_KEY] = _context(request).box.encrypt(json.dumps(pending))
    return RedirectResponse(oauth.authorization_url(state, verifier), status_code=302)


def _pending(request: Request, user: User, state: str) -> dict[str, Any] | str:
    """The stored request this callback answers, or the words that say why it is not accepted."""
    sealed = request.session.pop(SESSION_KEY, None)
    again = "start again with \"Connect Google Calendar\" in Settings › Calendar sync"
    if not sealed:
        return f"this Google sign-in was not started from this browser session: {again}"
    try:
        pending = json.loads(_context(request).box.decrypt(sealed))
    except ValueError:
        return f"this Google sign-in cannot be read: {again}"
    if pending.get("user") != user.id:
        return f"this Google sign-in was started by another user: {again}"
    if now() - float(pending.get("at", 0)) > STATE_SECONDS:
        return f"this Google sign-in took longer than {STATE_SECONDS // 60} minutes: {again}"
    if not state or not hmac.compare_digest(str(pending.get("state", "")), state):
        return f"the answer from Google does not match this sign-in (state): {again}"
    return dict(pending)


@router.get("/oauth/google/callback")
def callback(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
    query = request.query_params
    pending = _pending(request, user, query.get("state", ""))
    if isinstance(pending, str):
        return _failed(request, user, pending)
    if query.get("error"):
        reason = "you did not allow access" if query["error"] == "access_denied" else f"Google answered {query['error']}"
        return _failed(request, user, f"Google Calendar was not connected: {reason}.")
    code = query.get("code", "")
    if not code:
        return _failed(request, user, "Google's answer holds no authorization code: connect again")
    context = _context(request)
    _stop_channel(session, context, user)
    try:
        account = accounts.connect(session, context.box, user, "google",
                                   {"code": code, "code_verifier": pending["verifier"], "choose_calendar": True})
    except CrmError as exc:
        session.rollback()
        return _failed(request, user, str(getattr(exc, "message", exc)))
    session.commit()  # stored before the browser is told so (and before any run can start)
    if account.calendar_id:
        runner = context.extras.get("runner")
        if runner is not None:
            runner.request_sync(account.id, "connect")
    return RedirectResponse(SETTINGS_PAGE + "?connected=google", status_code=303)


def _stop_channel(session: Session, context: AppContext, user: User) -> None:
    """A reconnect replaces the stored credentials and the push channel kept with them: the old
    channel is stopped first (a failure is logged; the channel then lapses at its expiry)."""
    from calsync.jobs.push import Channels
    from calsync.sync import repository as repo

    account = repo.account_of_user(session, user.id)
    if account is not None:
        Channels(context).stop(account.id)


def install(app: FastAPI, context: AppContext) -> None:
    app.include_router(router)
