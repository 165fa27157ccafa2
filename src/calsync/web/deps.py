"""Request dependencies: a database session per request and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from calsync.crm.errors import Unauthorized
from calsync.crm.services.accounts import user_by_token
from calsync.store.tables import User
from calsync.web.context import AppContext

SESSION_USER_KEY = "user_id"


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
    """The user of the `X-Api-Token` header, or of the web UI's session cookie."""
    token = request.headers.get("x-api-token") or request.query_params.get("api_token")
    if token:
        return user_by_token(session, token)
    user_id = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
    if user_id:
        user = session.get(User, int(user_id))
        if user is not None and user.active:
            return user
    raise Unauthorized("sign in, or send your API token in the X-Api-Token header (`calsync user token EMAIL`)")
