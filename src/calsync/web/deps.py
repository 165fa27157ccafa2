"""Request dependencies: a database session per request and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from calsync.crm.errors import Unauthorized
from calsync.crm.services.accounts import user_by_token
from calsync.store.tables import User
from calsync.web import sessions
from calsync.web.context import AppContext
from calsync.web.credentials import presented_api_token
from calsync.web.sessions import SESSION_USER_KEY  # noqa: F401  (re-exported)


def get_context(request: Request) -> AppContext:
    return request.app.state.context


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    context: AppContext = request.app.state.context
    session = context.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def current_user(request: Request, session: Session = Depends(get_session)) -> User:
    """The user of the API token (`X-Api-Token` header or `?api_token=`), or else of the web UI's
    session cookie. A request that names a token is judged by the token alone, never the cookie
    (the CSRF check exempts exactly those, via the same `presented_api_token`)."""
    token = presented_api_token(request.scope)
    if token:
        return user_by_token(session, token)
    user = sessions.signed_in_user(request, session)
    if user is not None:
        return user
    raise Unauthorized("sign in, or send your API token in the X-Api-Token header (`calsync user token EMAIL`)")
