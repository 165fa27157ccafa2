"""OAuth connect for every provider that declares it (its factory has `oauth()`, as Google's and
Microsoft's do): `GET /oauth/{provider}/start` and `/oauth/{provider}/callback`.

Start (signed-in user): draws a random `state` and PKCE verifier, keeps them encrypted in the
session cookie together with the user's id, the provider and the time, and sends the browser to
the provider's consent. Callback: accepts the answer only for the same signed-in user and
provider, with the same `state`, within STATE_SECONDS; trades the code (with the verifier) for
tokens, stores them encrypted through the one connect path (`sync.accounts.connect`) and returns
to Settings › Calendar sync, where the user picks the calendar (the account waits in
`choose_calendar`). Every failure is a page that says what to do, never a 500."""

from __future__ import annotations

import hmac
import json
import secrets
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
SESSION_KEY = "oauth_pending"
SETTINGS_PAGE = "/settings/calendar-sync"

router = APIRouter(include_in_schema=False)
now = time.time  # the clock the state's age is measured with (tests move it)


def _context(request: Request) -> AppContext:
    return request.app.state.context  # type: ignore[no-any-return]


def oauth_factory(name: str) -> Any:
    """The registered factory `name` when it connects through OAuth, else None."""
    try:
        factory = registry.get(name)
    except KeyError:
        return None
    return factory if callable(getattr(factory, "oauth", None)) else None


def _failed(request: Request, user: User, label: str, message: str, status: int = 400) -> HTMLResponse:
    return render(request, "oauth_error.html", user, status_code=status, provider=label, message=message)


def new_pkce() -> tuple[str, str]:
    """(state, code_verifier): random values for one authorization request (RFC 7636: 43-128 characters)."""
    return secrets.token_urlsafe(32), secrets.token_urlsafe(64)


@router.get("/oauth/{provider}/start")
def start(request: Request, provider: str, user: User = Depends(page_user)) -> Response:
    factory = oauth_factory(provider)
    if factory is None:
        return _failed(request, user, provider, f"there is no calendar provider '{provider}' that connects "
                       "through a sign-in page on this server", status=404)
    try:
        oauth = factory.oauth()
    except ConnectError as exc:
        return _failed(request, user, factory.label, exc.message)
    state, verifier = new_pkce()
    pending = {"user": user.id, "provider": provider, "state": state, "verifier": verifier, "at": now()}
    request.session[SESSION_KEY] = _context(request).box.encrypt(json.dumps(pending))
    return RedirectResponse(oauth.authorization_url(state, verifier), status_code=302)


def _pending(request: Request, user: User, provider: str, label: str, state: str) -> dict[str, Any] | str:
    """The stored request this callback answers, or the words that say why it is not accepted."""
    sealed = request.session.pop(SESSION_KEY, None)
    again = f"start again with \"Connect {label}\" in Settings › Calendar sync"
    if not sealed:
        return f"this {label} sign-in was not started from this browser session: {again}"
    try:
        pending = json.loads(_context(request).box.decrypt(sealed))
    except ValueError:
        return f"this {label} sign-in cannot be read: {again}"
    if pending.get("user") != user.id:
        return f"this {label} sign-in was started by another user: {again}"
    if pending.get("provider") != provider:
        return f"this sign-in was started for another calendar provider, not {label}: {again}"
    if now() - float(pending.get("at", 0)) > STATE_SECONDS:
        return f"this {label} sign-in took longer than {STATE_SECONDS // 60} minutes: {again}"
    if not state or not hmac.compare_digest(str(pending.get("state", "")), state):
        return f"the answer from {label} does not match this sign-in (state): {again}"
    return dict(pending)


@router.get("/oauth/{provider}/callback")
def callback(request: Request, provider: str, user: User = Depends(page_user),
             session: Session = Depends(get_session)) -> Response:
    factory = oauth_factory(provider)
    if factory is None:
        return _failed(request, user, provider, f"there is no calendar provider '{provider}' that connects "
                       "through a sign-in page on this server", status=404)
    label = str(getattr(factory, "label", provider))
    query = request.query_params
    pending = _pending(request, user, provider, label, query.get("state", ""))
    if isinstance(pending, str):
        return _failed(request, user, label, pending)
    if query.get("error"):
        reason = "you did not allow access" if query["error"] == "access_denied" else f"the provider answered {query['error']}"
        return _failed(request, user, label, f"{label} was not connected: {reason}.")
    code = query.get("code", "")
    if not code:
        return _failed(request, user, label, f"the answer from {label} holds no authorization code: connect again")
    context = _context(request)
    _stop_channel(session, context, user)
    try:
        account = accounts.connect(session, context.box, user, provider,
                                   {"code": code, "code_verifier": pending["verifier"], "choose_calendar": True})
    except CrmError as exc:
        session.rollback()
        return _failed(request, user, label, str(getattr(exc, "message", exc)))
    session.commit()  # stored before the browser is told so (and before any run can start)
    if account.calendar_id:
        runner = context.extras.get("runner")
        if runner is not None:
            runner.request_sync(account.id, "connect")
    return RedirectResponse(f"{SETTINGS_PAGE}?connected={provider}", status_code=303)


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
