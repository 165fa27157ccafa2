"""Google OAuth 2.0 for calendar sync: the authorization code flow with PKCE (Authlib), and the
token source every API call takes its bearer token from.

The token source refreshes shortly before the access token expires, refreshes once more when
the API answers 401, and turns `invalid_grant` (revoked, expired or rotated-away grant) into an
AuthError, which stops the account until the user reconnects. A refresh that returns a new
refresh token (rotation) replaces the stored one; `on_update` lets the owner persist it."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from calsync.providers.tokens import REFRESH_MARGIN, TokenSource as _SharedTokenSource
from calsync.sync.provider import AuthError, ProviderError

import authlib.deprecate  # noqa: F401  (installs Authlib's own warning filter first, so ours wins)

with warnings.catch_warnings():  # Authlib's httpx integration warns about its own future rename
    warnings.simplefilter("ignore")
    from authlib.common.security import generate_token
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

# Events on every calendar, and the calendar list (to offer the user a writable calendar).
SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
)
RECONNECT = "the Google grant has expired or was revoked: reconnect Google Calendar in Settings › Calendar sync"

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class OAuthClient:
    """The OAuth client registered in Google's console, and the endpoints to use."""

    client_id: str
    client_secret: str
    auth_url: str
    token_url: str
    redirect_uri: str
    timeout: float = 20.0

    def _session(self) -> OAuth2Client:
        return OAuth2Client(self.client_id, self.client_secret, scope=" ".join(SCOPES),
                            redirect_uri=self.redirect_uri, code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_post", timeout=self.timeout)

    def authorization_url(self, state: str, code_verifier: str) -> str:
        """Where to send the browser: Google's consent for our scopes, offline access, PKCE S256."""
        with self._session() as session:
            url, _ = session.create_authorization_url(self.auth_url, state=state, code_verifier=code_verifier,
                                                      access_type="offline", prompt="consent",
                                                      include_granted_scopes="true")
        return str(url)

    def exchange(self, code: str, code_verifier: str, clock: Clock = _utcnow) -> dict[str, Any]:
        """Trades the callback's code for tokens; returns the credentials to store."""
        with self._session() as session:
            token = self._call(lambda: session.fetch_token(self.token_url, code=code, code_verifier=code_verifier,
                                                           grant_type="authorization_code"))
        if not token.get("refresh_token"):
            raise AuthError("Google granted no offline access (no refresh token): connect again and allow access")
        return credentials_from(token, clock())

    def refresh(self, refresh_token: str, clock: Clock = _utcnow) -> dict[str, Any]:
        """A new access token (and a new refresh token when Google rotates them)."""
        with self._session() as session:
            token = self._call(lambda: session.refresh_token(self.token_url, refresh_token=refresh_token))
        creds = credentials_from(token, clock())
        creds.setdefault("refresh_token", refresh_token)  # kept unless Google rotated it
        return creds

    @staticmethod
    def _call(fetch: Callable[[], Any]) -> dict[str, Any]:
        try:
            return dict(fetch())
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "unauthorized_client"):
                raise AuthError(RECONNECT) from None
            if exc.error == "invalid_client":
                raise AuthError("Google refused this app's OAuth client id or secret: check "
                                "CALSYNC_GOOGLE_CLIENT_ID and CALSYNC_GOOGLE_CLIENT_SECRET") from None
            raise ProviderError(f"Google's token endpoint refused the request: {exc.error} {exc.description or ''}".strip()) from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach Google's token endpoint: {exc}") from None


def new_pkce() -> tuple[str, str]:
    """(state, code_verifier): random values for one authorization request."""
    return generate_token(32), generate_token(64)


def credentials_from(token: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The stored shape of a token response: access token, refresh token, expiry (ISO), scopes."""
    expires_in = int(token.get("expires_in") or 3600)
    creds: dict[str, Any] = {
        "access_token": token["access_token"],
        "expires_at": (now + dt.timedelta(seconds=expires_in)).isoformat(),
    }
    if token.get("refresh_token"):
        creds["refresh_token"] = token["refresh_token"]
    if token.get("scope"):
        creds["scope"] = token["scope"]
    return creds


class TokenSource(_SharedTokenSource):
    """The shared token source (calsync.providers.tokens) with Google's reconnect message."""

    def __init__(self, client: OAuthClient, credentials: dict[str, Any], *, clock: Clock = _utcnow,
                 on_update: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__(client, credentials, clock=clock, on_update=on_update, reconnect=RECONNECT)
