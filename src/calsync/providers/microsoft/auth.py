"""Microsoft identity platform OAuth 2.0 for Graph: the authorization code flow with PKCE and
`state` that first connects an account (Authlib), and the refresh grant that keeps its access
token valid.

Microsoft rotates refresh tokens on every refresh (the old one stays valid for a while): the new
one replaces the stored one and the token source's `on_update` persists it (sync/credentials.py).
`invalid_grant` (AADSTS700082 expired, 50173 revoked, 70008, 65001 consent, 50076/50079
interaction needed) is an AuthError: the account stops in `auth_error` until the user reconnects."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from calsync.sync.provider import AuthError, ProviderError

import authlib.deprecate  # noqa: F401  (installs Authlib's own warning filter first, so ours wins)

with warnings.catch_warnings():  # Authlib's httpx integration warns about its own future rename
    warnings.simplefilter("ignore")
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

SCOPES = ("https://graph.microsoft.com/Calendars.ReadWrite", "offline_access")
RECONNECT = ("the Microsoft 365 grant has expired or was revoked: reconnect Microsoft 365 in "
             "Settings › Calendar sync")
# Token-endpoint errors that mean the grant is gone and only the user can bring it back.
GRANT_GONE = ("invalid_grant", "interaction_required", "consent_required")

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class OAuthClient:
    """The app registered in Microsoft Entra, its tenant and the identity platform's endpoints."""

    client_id: str
    client_secret: str
    login_url: str = "https://login.microsoftonline.com"
    tenant: str = "common"
    timeout: float = 20.0
    redirect_uri: str = ""

    @property
    def auth_url(self) -> str:
        return f"{self.login_url.rstrip('/')}/{self.tenant}/oauth2/v2.0/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.login_url.rstrip('/')}/{self.tenant}/oauth2/v2.0/token"

    def _session(self) -> OAuth2Client:
        return OAuth2Client(self.client_id, self.client_secret, scope=" ".join(SCOPES),
                            redirect_uri=self.redirect_uri or None, code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_post", timeout=self.timeout)

    def authorization_url(self, state: str, code_verifier: str) -> str:
        """Where to send the browser: Microsoft's sign-in and consent, PKCE S256, a fresh account choice."""
        with self._session() as session:
            url, _ = session.create_authorization_url(self.auth_url, state=state, code_verifier=code_verifier,
                                                      response_mode="query", prompt="select_account")
        return str(url)

    def exchange(self, code: str, code_verifier: str, clock: Clock = utcnow) -> dict[str, Any]:
        """Trades the callback's code (and the PKCE verifier) for tokens; returns what to store."""
        with self._session() as session:
            token = self._call(lambda: session.fetch_token(self.token_url, code=code, code_verifier=code_verifier,
                                                           grant_type="authorization_code"))
        if not token.get("refresh_token"):
            raise AuthError("Microsoft granted no offline access (no refresh token): connect again and allow access")
        return credentials_from(token, clock())

    def refresh(self, refresh_token: str, clock: Clock = utcnow) -> dict[str, Any]:
        """A new access token and (Microsoft rotates them) a new refresh token."""
        with self._session() as session:
            token = self._call(lambda: session.refresh_token(self.token_url, refresh_token=refresh_token,
                                                             scope=" ".join(SCOPES)))
        creds = credentials_from(token, clock())
        creds.setdefault("refresh_token", refresh_token)
        return creds

    @staticmethod
    def _call(fetch: Callable[[], Any]) -> dict[str, Any]:
        try:
            return dict(fetch())
        except OAuthError as exc:
            if exc.error in GRANT_GONE:
                raise AuthError(RECONNECT) from None
            if exc.error in ("invalid_client", "unauthorized_client"):
                raise AuthError("Microsoft refused this app's client id or secret: check CALSYNC_MICROSOFT_CLIENT_ID "
                                "and CALSYNC_MICROSOFT_CLIENT_SECRET") from None
            first_line = str(exc.description or "").split("\r\n")[0].split("\n")[0]
            raise ProviderError(f"Microsoft's token endpoint refused the request: {exc.error} {first_line}".strip()) from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach Microsoft's token endpoint: {exc}") from None


TokenClient = OAuthClient  # the name the refresh-only client had


def credentials_from(token: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The stored shape of a token response: access token, refresh token, expiry (ISO), scopes."""
    creds: dict[str, Any] = {
        "access_token": token["access_token"],
        "expires_at": (now + dt.timedelta(seconds=int(token.get("expires_in") or 3600))).isoformat(),
    }
    if token.get("refresh_token"):
        creds["refresh_token"] = token["refresh_token"]
    if token.get("scope"):
        creds["scope"] = token["scope"]
    return creds
