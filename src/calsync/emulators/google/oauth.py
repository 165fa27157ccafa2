"""Google's OAuth endpoints: consent page, authorization code (PKCE S256), token grants, revocation.

The consent page is plain HTML: one form per user with an "Allow" button, no script, no cookies.
The flow's book-keeping is shared with the Microsoft emulator (emulators/common/oauth.py).
"""

from __future__ import annotations

import base64
import html
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from calsync.emulators.common import oauth as common
from calsync.emulators.common.oauth import consent_lists, pkce_challenge, read_form, redirect_back
from calsync.emulators.google.clock import Clock
from calsync.emulators.google.config import EmulatorConfig
from calsync.emulators.google.errors import ApiError

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
KNOWN_SCOPES = {SCOPE_PREFIX + s for s in (
    "calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly", "calendar.events.owned",
    "calendar.events.owned.readonly", "calendar.app.created", "calendar.calendarlist",
    "calendar.calendarlist.readonly", "calendar.calendars", "calendar.calendars.readonly",
    "calendar.settings", "calendar.settings.readonly", "calendar.freebusy", "calendar.events.freebusy",
    "calendar.events.public.readonly", "calendar.acls", "calendar.acls.readonly", "userinfo.email",
    "userinfo.profile")} | {"openid", "email", "profile"}
ALL_CALENDAR = [SCOPE_PREFIX + "calendar"]


@dataclass
class Grant(common.Grant):
    revoked: bool = False


@dataclass
class AccessToken:
    user: str
    scopes: list[str]
    expires_at: datetime
    grant: Grant | None


class Auth(common.Tokens[Grant, AccessToken]):
    """Grants, codes and tokens; Bearer authentication for the API."""

    def __init__(self, config: EmulatorConfig, clock: Clock, users: dict[str, str]) -> None:
        super().__init__(clock)
        self.config, self.users = config, users

    def issue_access(self, user: str, scopes: list[str], grant: Grant | None) -> tuple[str, int]:
        token = "ya29.emu-" + secrets.token_urlsafe(24)
        seconds = self.config.access_token_seconds
        self.access[token] = AccessToken(user, scopes, self.clock.now() + timedelta(seconds=seconds), grant)
        return token, seconds

    def authenticate(self, authorization: str | None) -> AccessToken:
        scheme, _, token = (authorization or "").partition(" ")
        found = self.access.get(token) if scheme.lower() == "bearer" else None
        if found is None or found.expires_at <= self.clock.now() or (found.grant and found.grant.revoked):
            raise ApiError(401, "authError", "Invalid Credentials", location="Authorization",
                           location_type="header", headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        return found

    def revoke_user(self, user: str) -> int:
        count = 0
        for grant in self.grants.values():
            if grant.user == user and not grant.revoked:
                grant.revoked = True
                count += 1
        self.forget_access(lambda a: a.user == user)
        return count


def _error_page(status: int, title: str, detail: str) -> HTMLResponse:
    body = (f"<!doctype html><html><head><title>Error {status}: {html.escape(title)}</title></head>"
            f"<body><h1>Access blocked: {html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>")
    return HTMLResponse(body, status_code=status)


def _check_request(auth: Auth, params: dict[str, str]) -> HTMLResponse | None:
    config = auth.config
    if params.get("client_id") != config.client_id:
        return _error_page(401, "invalid_client", "The OAuth client was not found.")
    if params.get("redirect_uri") not in config.redirect_uris:
        return _error_page(400, "redirect_uri_mismatch",
                           f"The redirect URI {params.get('redirect_uri')!r} is not registered for this client "
                           f"(registered: {', '.join(config.redirect_uris)}).")
    if params.get("response_type") != "code":
        return _error_page(400, "unsupported_response_type", "response_type must be code.")
    scopes = params.get("scope", "").split()
    if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
        return _error_page(400, "invalid_scope", f"Some requested scopes are unknown or missing: {params.get('scope')!r}.")
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
        return _error_page(400, "invalid_request", "code_challenge_method must be S256.")
    return None


_FORWARDED = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
              "code_challenge_method", "access_type", "prompt", "login_hint")


def consent_page(auth: Auth, request: Request) -> Response:
    params = dict(request.query_params)
    error = _check_request(auth, params)
    if error is not None:
        return error
    scopes, rows = consent_lists(request, params, _FORWARDED, auth.users)
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in - Calendar emulator</title></head>"
            f"<body><h1>Choose an account</h1><p>to continue to {html.escape(params['client_id'])}, which asks for:</p>"
            f"<ul>{scopes}</ul><ul class=\"users\">{rows}</ul></body></html>")
    return HTMLResponse(page)


async def approve(auth: Auth, request: Request) -> Response:
    form = await read_form(request)
    error = _check_request(auth, form)
    if error is not None:
        return error
    redirect = form["redirect_uri"]
    state = {"state": form["state"]} if "state" in form else {}
    if form.get("decision") != "allow":
        return redirect_back(redirect, {"error": "access_denied", **state})
    user = form.get("user", "")
    if user not in auth.users:
        return _error_page(400, "unknown user", f"There is no user {user!r} in this emulator.")
    grant = Grant(secrets.token_hex(8), user, form["scope"].split(), form.get("access_type") == "offline",
                  bool(form.get("code_challenge")))
    code = auth.new_code(grant, redirect, form.get("code_challenge"), "4/emu-", 24)
    return redirect_back(redirect, {"code": code, **state, "scope": form["scope"]})


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client_ok(auth: Auth, request: Request, form: dict[str, str]) -> bool:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            raw_id, _, raw_secret = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        except ValueError:
            return False
    return client_id == auth.config.client_id and secret == auth.config.client_secret


def _token_reply(auth: Auth, grant: Grant, refresh_token: str | None) -> JSONResponse:
    access, seconds = auth.issue_access(grant.user, grant.scopes, grant)
    body: dict[str, Any] = {"access_token": access, "expires_in": seconds, "scope": " ".join(grant.scopes),
                            "token_type": "Bearer"}
    if refresh_token:
        body["refresh_token"] = refresh_token
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _new_refresh(auth: Auth, grant: Grant) -> str:
    return auth.new_refresh(grant, "1//emu-", 32)


async def token_endpoint(auth: Auth, request: Request) -> Response:
    form = await read_form(request)
    if not _client_ok(auth, request, form):
        return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
    kind = form.get("grant_type")
    if kind == "authorization_code":
        code = auth.codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at <= auth.clock.now() or code.grant.revoked:
            return _oauth_error("invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("redirect_uri_mismatch", "Bad Request")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                return _oauth_error("invalid_request", "Missing code verifier.")
            if pkce_challenge(verifier) != code.challenge:
                return _oauth_error("invalid_grant", "Invalid code verifier.")
        code.used = True
        refresh = _new_refresh(auth, code.grant) if code.grant.offline else None
        return _token_reply(auth, code.grant, refresh)
    if kind == "refresh_token":
        presented = form.get("refresh_token", "")
        grant = auth.refresh.get(presented)
        if grant is None or grant.revoked or presented not in grant.refresh_tokens:
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        rotated = None
        if auth.config.rotate_refresh_tokens:
            auth.retire_refresh(grant, presented)
            rotated = _new_refresh(auth, grant)
        return _token_reply(auth, grant, rotated)
    return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {kind}")


async def revoke_endpoint(auth: Auth, request: Request) -> Response:
    """Google's /revoke: a refresh or access token ends its whole grant."""
    form = await read_form(request)
    token = form.get("token") or request.query_params.get("token", "")
    grant = auth.refresh.get(token)
    if grant is None and token in auth.access:
        grant = auth.access[token].grant
        auth.access.pop(token, None)
    if grant is None:
        return _oauth_error("invalid_token", "Token expired or revoked")
    grant.revoked = True
    auth.forget_access(lambda a: a.grant is grant)
    return Response(status_code=200)
