"""Which credential a request presents: an API token (header or `?api_token=`) or else the
session cookie. One function decides, so the CSRF check and the authentication can never
disagree about how a request was authenticated (an empty `?api_token=` is no token)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import Scope

TOKEN_HEADER = b"x-api-token"
TOKEN_QUERY = "api_token"


def presented_api_token(scope: Scope) -> str | None:
    """The API token of a /api/ request, or None when it names none (blank counts as none)."""
    if not scope.get("path", "").startswith("/api/"):
        return None
    for name, value in scope.get("headers") or []:
        if name == TOKEN_HEADER:
            token = value.decode("latin-1").strip()
            if token:
                return token
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    for token in query.get(TOKEN_QUERY, []):
        if token.strip():
            return token.strip()
    return None
