"""Server-side web sessions. The signed cookie carries only a random session id; the row keyed by
its digest says who is signed in. So a session ends for real when the user signs out (row
deleted), when their password changes (the row's stamp no longer matches), when the user is
removed or deactivated, and after `session_idle_seconds` without a request."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.orm import Session

from calsync.store.tables import User, WebSession
from calsync.web.context import AppContext

SESSION_ID_KEY = "sid"
SESSION_USER_KEY = "user_id"  # also read by the CSRF middleware: "this cookie is signed in"
_TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen is written at most once a minute per session


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def password_stamp(user: User) -> str:
    """Changes whenever the password does; a session made under another password is void."""
    return hashlib.sha256(("calsync-session:" + user.password_hash).encode()).hexdigest()


def _context(request: Request) -> AppContext:
    return request.app.state.context


def start(request: Request, session: Session, user: User) -> None:
    """Signs `user` in: a fresh cookie session (no fixation) bound to a new server-side row."""
    raw = secrets.token_urlsafe(32)
    now = _context(request).clock()
    session.add(WebSession(id=_digest(raw), user_id=user.id, password_stamp=password_stamp(user),
                           created_at=now, last_seen_at=now))
    session.commit()  # durable before the redirect answer: the browser's next request needs it
    request.session.clear()
    request.session[SESSION_ID_KEY] = raw
    request.session[SESSION_USER_KEY] = user.id


def signed_in_user(request: Request, session: Session) -> User | None:
    """The user this request's session cookie stands for, if the server-side session still holds."""
    if "session" not in request.scope:
        return None
    raw = request.session.get(SESSION_ID_KEY)
    if not isinstance(raw, str) or not raw:
        return None
    row = session.get(WebSession, _digest(raw))
    if row is None:
        return None
    context = _context(request)
    now = context.clock()
    user = session.get(User, row.user_id)
    idle = dt.timedelta(seconds=context.settings.session_idle_seconds)
    if user is None or not user.active or row.password_stamp != password_stamp(user) or now - row.last_seen_at >= idle:
        session.delete(row)
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
    return user


def current_row_id(request: Request) -> str | None:
    """The key of this request's server-side session row (None without a signed-in cookie)."""
    if "session" not in request.scope:
        return None
    raw = request.session.get(SESSION_ID_KEY)
    return _digest(raw) if isinstance(raw, str) and raw else None


def restamp(request: Request, session: Session, user: User) -> None:
    """After the user changed their own password here: this session stays signed in (bound to the
    new password), while every other one was ended by the change."""
    row_id = current_row_id(request)
    row = session.get(WebSession, row_id) if row_id else None
    if row is not None and row.user_id == user.id:
        row.password_stamp = password_stamp(user)


def end(request: Request, session: Session) -> None:
    """Signs out: the server-side row goes, so a copy of the cookie is worth nothing."""
    raw = request.session.get(SESSION_ID_KEY)
    if isinstance(raw, str) and raw:
        session.execute(delete(WebSession).where(WebSession.id == _digest(raw)))
        session.commit()  # ended before the answer leaves, not after
    request.session.clear()
