"""Connecting a Google account. Google connects through OAuth (the web app's
`/oauth/google/start` and callback), so `connect` takes the callback's authorization code and
PKCE verifier; `open` reopens a stored connection with its tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from calsync.config import Settings, get_settings
from calsync.providers.google.auth import OAuthClient, TokenSource
from calsync.providers.google.http import GoogleHttp
from calsync.providers.google.provider import GoogleProvider
from calsync.sync.provider import AuthError, ConnectError, ProviderError

CALLBACK_PATH = "/oauth/google/callback"
USE_OAUTH = ("Google Calendar connects through Google's consent page: use \"Connect Google Calendar\" "
             "in Settings › Calendar sync")


class GoogleFactory:
    """ProviderFactory for Google Calendar, configured by the CALSYNC_GOOGLE_* settings."""

    name = "google"
    label = "Google Calendar"
    renews_credentials = True  # open() takes on_update: refreshed and rotated tokens are stored

    def __init__(self, settings: Callable[[], Settings] = get_settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    @property
    def configured(self) -> bool:
        """True when an OAuth client id is set (the settings page offers Google only then)."""
        return bool(self.settings().google_client_id)

    def oauth(self) -> OAuthClient:
        s = self.settings()
        if not s.google_client_id:
            raise ConnectError("Google Calendar is not set up on this server: set CALSYNC_GOOGLE_CLIENT_ID and "
                               "CALSYNC_GOOGLE_CLIENT_SECRET", field="provider")
        return OAuthClient(s.google_client_id, s.google_client_secret, s.google_auth_url, s.google_token_url,
                           s.resolved_public_url() + CALLBACK_PATH, timeout=self.timeout)

    def connect(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Params: `code` and `code_verifier` from the OAuth callback. Returns the account's
        e-mail (its primary calendar's id) and the tokens to store."""
        code, verifier = str(params.get("code") or ""), str(params.get("code_verifier") or "")
        if not code or not verifier:
            raise ConnectError(USE_OAUTH, field="provider")
        try:
            credentials = self.oauth().exchange(code, verifier)
            provider = self.open(credentials)
            try:
                calendars = provider.list_calendars()
            finally:
                provider.close()
        except AuthError as exc:
            raise ConnectError(f"Google refused the connection: {exc.message}", field="provider") from None
        except ProviderError as exc:
            raise ConnectError(f"cannot talk to Google Calendar: {exc.message}", field="provider") from None
        primary = next((c for c in calendars if c.primary), None)
        email = primary.id if primary else "Google account"
        credentials["email"] = email
        return email, credentials

    def open(self, credentials: dict[str, Any],
             on_update: Callable[[dict[str, Any]], None] | None = None) -> GoogleProvider:
        tokens = TokenSource(self.oauth(), credentials, on_update=on_update)
        return GoogleProvider(GoogleHttp(self.settings().google_api_url, tokens, timeout=self.timeout))
