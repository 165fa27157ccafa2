"""The Microsoft identity platform's v2.0 endpoints: `/{tenant}/oauth2/v2.0/authorize` (a consent
page with one "Allow" form per user) and `/{tenant}/oauth2/v2.0/token` (authorization code with
PKCE S256, refresh tokens that roll over on every use), with AADSTS-coded errors.

Microsoft has no token revocation endpoint; a grant ends when the user or an admin revokes it
(`/_emulator/revoke`), after which refreshing answers `invalid_grant` with an AADSTS code.
The flow's book-keeping is shared with the Google emulator (emulators/common/oauth.py).
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from calsync.emulators.common import oauth as common
from calsync.emulators.common.clock import Clock
from calsync.emulators.common.oauth import consent_lists, pkce_challenge, read_form, redirect_back
from calsync.emulators.microsoft.config import EmulatorConfig
from calsync.emulators.microsoft.errors import GraphError

GRAPH = "https://graph.microsoft.com/"
GRAPH_SCOPES = {"calendars.read", "calendars.readwrite", "calendars.read.shared", "calendars.readwrite.shared",
                "user.read", "mailboxsettings.read", ".default"}
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
ALL_CALENDAR = [GRAPH + "Calendars.ReadWrite"]
TENANT_ALIASES = ("common", "organizations", "consumers")
# What invalid_grant says for each way a grant can end.
AADSTS = {
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
           "have changed or reset their password.",
    700082: "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive "
            "for 90.00:00:00.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. Send a new "
           "interactive authorization request for this user and resource.",
    65001: "The user or administrator has not consented to use the application. Send an interactive "
           "authorization request for this user and resource.",
    50076: "Due to a configuration change made by your administrator, or because you moved to a new location, "
           "you must use multi-factor authentication to access the resource.",
}


def short_scope(scope: str) -> str:
    """`https://graph.microsoft.com/Calendars.ReadWrite` and `Calendars.ReadWrite` are one scope."""
    return scope[len(GRAPH):].lower() if scope.lower().startswith(GRAPH) else scope.lower()


def user_object_id(user: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mailto:" + user.lower()))


@dataclass
class Grant(common.Grant):
    revoked_code: int | None = None
    issued: datetime | None = None


@dataclass
class AccessToken:
    user: str
    scopes: set[str]        # short, lower-case
    expires_at: datetime
    grant: Grant | None


class Auth(common.Tokens[Grant, AccessToken]):
    """Grants, codes and tokens; Bearer authentication for Graph."""

    def __init__(self, config: EmulatorConfig, clock: Clock, users: list[str]) -> None:
        super().__init__(clock)
        self.config, self.users = config, users

    def issue_access(self, user: str, scopes: list[str], grant: Grant | None) -> tuple[str, int]:
        """A JWT-shaped access token (Graph clients must treat it as opaque)."""
        seconds = self.config.access_token_seconds
        now = self.clock.now()
        short = {short_scope(s) for s in scopes} - OIDC_SCOPES
        claims = {"aud": "00000003-0000-0000-c000-000000000000", "iss": f"https://sts.windows.net/{self.config.tenant_id}/",
                  "iat": int(now.timestamp()), "exp": int(now.timestamp()) + seconds, "tid": self.config.tenant_id,
                  "oid": user_object_id(user), "upn": user, "appid": self.config.client_id,
                  "scp": " ".join(sorted(short)), "jti": secrets.token_urlsafe(8)}
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
        token = f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.{secrets.token_urlsafe(32)}"
        self.access[token] = AccessToken(user, short, now + timedelta(seconds=seconds), grant)
        return token, seconds

    def authenticate(self, authorization: str | None) -> AccessToken:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        found = self.access.get(token)
        if found is None or found.expires_at <= self.clock.now() or (found.grant and found.grant.revoked_code):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.",
                             {"WWW-Authenticate": 'Bearer realm="", authorization_uri='
                                                 '"https://login.microsoftonline.com/common/oauth2/authorize"'})
        return found

    def revoke_user(self, user: str, code: int) -> int:
        count = 0
        for grant in self.grants.values():
            if grant.user == user and not grant.revoked_code:
                grant.revoked_code = code
                count += 1
        self.forget_access(lambda a: a.user == user)
        return count


def _error_page(status: int, code: int, detail: str) -> HTMLResponse:
    body = (f"<!doctype html><html><head><title>Sign in to your account</title></head><body>"
            f"<h1>Sorry, but we're having trouble signing you in.</h1>"
            f"<p class=\"error\">AADSTS{code}: {html.escape(detail)}</p></body></html>")
    return HTMLResponse(body, status_code=status)


def tenant_ok(config: EmulatorConfig, tenant: str) -> bool:
    return tenant in TENANT_ALIASES or tenant in (config.tenant, config.tenant_id)


def _check_request(auth: Auth, tenant: str, params: dict[str, str]) -> HTMLResponse | None:
    config = auth.config
    if not tenant_ok(config, tenant):
        return _error_page(400, 90002, f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                                       f"tenant ID and are signing into the correct cloud.")
    if params.get("client_id") != config.client_id:
        return _error_page(400, 700016, f"Application with identifier '{params.get('client_id')}' was not found in "
                                        f"the directory '{tenant}'.")
    if params.get("redirect_uri") not in config.redirect_uris:
        return _error_page(400, 50011, f"The redirect URI '{params.get('redirect_uri')}' specified in the request "
                                       f"does not match the redirect URIs configured for the application "
                                       f"'{config.client_id}' (registered: {', '.join(config.redirect_uris)}).")
    if params.get("response_type") != "code":
        return _error_page(400, 900144, "The request body must contain the following parameter: "
                                        "'response_type' with the value 'code'.")
    scopes = params.get("scope", "").split()
    unknown = [s for s in scopes if short_scope(s) not in GRAPH_SCOPES | OIDC_SCOPES]
    if not scopes or unknown:
        return _error_page(400, 70011, f"The provided request must include a 'scope' input parameter; these "
                                       f"scopes are not valid: {' '.join(unknown) or '(none given)'}.")
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
        return _error_page(400, 501491, "Invalid code_challenge_method: use S256.")
    return None


_FORWARDED = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
              "code_challenge_method", "response_mode", "prompt", "login_hint", "nonce")


def consent_page(auth: Auth, request: Request) -> Response:
    tenant = request.path_params["tenant"]
    params = dict(request.query_params)
    error = _check_request(auth, tenant, params)
    if error is not None:
        return error
    scopes, rows = consent_lists(request, params, _FORWARDED, auth.users)
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Permissions requested - Microsoft emulator"
            "</title></head><body><h1>Pick an account</h1>"
            f"<p>{html.escape(params['client_id'])} asks for these permissions:</p><ul>{scopes}</ul>"
            f"<ul class=\"users\">{rows}</ul></body></html>")
    return HTMLResponse(page)


async def approve(auth: Auth, request: Request) -> Response:
    tenant = request.path_params["tenant"]
    form = await read_form(request)
    error = _check_request(auth, tenant, form)
    if error is not None:
        return error
    redirect = form["redirect_uri"]
    state = {"state": form["state"]} if "state" in form else {}
    if form.get("decision") != "allow":
        return redirect_back(redirect, {"error": "access_denied", "error_description": "AADSTS65004: User declined "
                                        "to consent to access the app.", **state})
    user = form.get("user", "")
    if user not in auth.users:
        return _error_page(400, 50034, f"The user account {user} does not exist in this emulator.")
    scopes = form["scope"].split()
    grant = Grant(secrets.token_hex(8), user, scopes, "offline_access" in {short_scope(s) for s in scopes},
                  bool(form.get("code_challenge")), issued=auth.clock.now())
    code = auth.new_code(grant, redirect, form.get("code_challenge"), "0.AX", 48)
    return redirect_back(redirect, {"code": code, **state, "session_state": str(uuid.uuid4())})


def oauth_error(auth: Auth, error: str, code: int, description: str, status: int = 400) -> JSONResponse:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = auth.clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
    return JSONResponse({
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
        "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }, status_code=status)


def _client_error(auth: Auth, request: Request, form: dict[str, str]) -> JSONResponse | None:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            secret = None
    if client_id != auth.config.client_id:
        return oauth_error(auth, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was "
                                                                f"not found in the directory.")
    if secret != auth.config.client_secret:
        return oauth_error(auth, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                                            "being sent in the request is the client secret value, "
                                                            "not the client secret ID.", 401)
    return None


def _token_reply(auth: Auth, grant: Grant) -> JSONResponse:
    access, seconds = auth.issue_access(grant.user, grant.scopes, grant)
    shown = [s if short_scope(s) in OIDC_SCOPES or s.lower().startswith(GRAPH) else GRAPH + s
             for s in grant.scopes if short_scope(s) != "offline_access"]
    body: dict[str, Any] = {"token_type": "Bearer", "scope": " ".join(shown), "expires_in": seconds,
                            "ext_expires_in": seconds, "access_token": access}
    if grant.offline:
        body["refresh_token"] = auth.new_refresh(grant, "1.AX", 64)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _revoked(auth: Auth, grant: Grant) -> JSONResponse:
    code = grant.revoked_code or 50173
    issued = (grant.issued or auth.clock.now()).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    text = AADSTS.get(code, "The grant is no longer valid.").format(issued=issued)
    return oauth_error(auth, "invalid_grant", code, text)


async def token_endpoint(auth: Auth, request: Request) -> Response:
    tenant = request.path_params["tenant"]
    form = await read_form(request)
    if not tenant_ok(auth.config, tenant):
        return oauth_error(auth, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
    failed = _client_error(auth, request, form)
    if failed is not None:
        return failed
    kind = form.get("grant_type")
    if kind == "authorization_code":
        code = auth.codes.get(form.get("code", ""))
        if code is None:
            return oauth_error(auth, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if code.used:
            return oauth_error(auth, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, "
                                                             "please retry with a new valid code or use an existing "
                                                             "refresh token.")
        if code.expires_at <= auth.clock.now():
            return oauth_error(auth, "invalid_grant", 70008, AADSTS[70008])
        if code.grant.revoked_code:
            return _revoked(auth, code.grant)
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error(auth, "invalid_grant", 50011, "The redirect URI does not match the one used in the "
                                                             "authorization request.")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                return oauth_error(auth, "invalid_grant", 501481, "The Code_Verifier does not match the "
                                                                  "code_challenge supplied in the authorization request.")
            if pkce_challenge(verifier) != code.challenge:
                return oauth_error(auth, "invalid_grant", 50148, "The code_verifier does not match the "
                                                                 "code_challenge supplied in the authorization request "
                                                                 "for PKCE.")
        code.used = True
        return _token_reply(auth, code.grant)
    if kind == "refresh_token":
        presented = form.get("refresh_token", "")
        grant = auth.refresh.get(presented)
        if grant is None or presented not in grant.refresh_tokens:
            return oauth_error(auth, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if grant.revoked_code:
            return _revoked(auth, grant)
        if auth.config.retire_old_refresh_tokens:
            auth.retire_refresh(grant, presented)
        return _token_reply(auth, grant)
    return oauth_error(auth, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                                                              f"'{kind}'.")
