"""CSRF protection for everything the browser sends with the session cookie.

A per-session token lives in the session; pages put it in a `<meta name="csrf-token">` tag,
in a hidden `csrf_token` form field, and htmx/fetch send it as the `X-CSRF-Token` header.
Every POST/PUT/PATCH/DELETE made with a signed-in session cookie must carry it; REST API
requests authenticated by an API token carry no ambient credential and are exempt, and so is
the CalDAV server under /dav (HTTP Basic auth, no cookie)."""

from __future__ import annotations

import hmac
import json
import secrets
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calsync.web.credentials import presented_api_token

SESSION_KEY = "csrf"
HEADER = b"x-csrf-token"
FORM_FIELD = "csrf_token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MESSAGE = "this form or request has no valid CSRF token (it may be stale or come from another site): reload the page and try again"


def token_for(session: dict) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return str(token)


def token_matches(session: dict, sent: str | None) -> bool:
    expected = session.get(SESSION_KEY)
    return bool(expected and sent and hmac.compare_digest(str(expected), sent))


class CsrfMiddleware:
    """Refuses unsafe cookie-authenticated requests without the session's token (403 JSON)."""

    def __init__(self, app: ASGIApp, exempt_prefixes: tuple[str, ...] = ("/dav",)) -> None:
        self.app = app
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        session = scope.get("session") or {}
        # Only the REST API authenticates by token, and a request that names a (non-blank) token
        # is then judged by it alone, never by the cookie (web/deps.py current_user uses the same
        # `presented_api_token`): a wrong token is a 401, so only a valid token request acts
        # without a CSRF token. A blank `?api_token=` names no token: the cookie and this check apply.
        # Pages read only the session: a token (or a forged ?api_token=) never exempts them.
        if presented_api_token(scope) is not None or not session.get("user_id"):
            await self.app(scope, receive, send)
            return
        sent = headers.get(HEADER, b"").decode("latin-1") or None
        if sent is None and headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
            body, receive = await _buffer(receive)
            values = parse_qs(body.decode("utf-8", "replace"))
            sent = (values.get(FORM_FIELD) or [None])[0]
        if not token_matches(session, sent):
            await _refuse(send)
            return
        await self.app(scope, receive, send)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Reads the whole body (the outer size limit bounds it) and returns a receive that replays it."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _refuse(send: Send) -> None:
    body = json.dumps({"success": False, "error": MESSAGE, "error_info": "csrf"}).encode()
    await send({"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
