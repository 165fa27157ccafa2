"""Connecting a Google account. Google connects through OAuth (the web app's
`/oauth/google/start` and callback), so `connect` takes the callback's authorization code and
PKCE verifier; `open` reopens a stored connection with its tokens."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from calsync.config import Settings, get_settings
from calsync.providers.google import push
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

    def push_reaches(self, address: str) -> bool:
        """Whether Google can POST notifications to `address`: an https address that is not on
        this machine, or any address when the Calendar API itself runs here (the emulator)."""
        target = urlsplit(address)
        if _local(urlsplit(self.settings().google_api_url).hostname):
            return True
        return target.scheme == "https" and not _local(target.hostname)

    @staticmethod
    def notification(headers: Mapping[str, str], channel: Mapping[str, Any], body: bytes = b"") -> str | None:
        """"changed" (sync now), "opened" (the channel's first message) or None (not ours)."""
        state = push.verify(headers, channel)
        return None if state is None else ("opened" if state == "sync" else "changed")

    def open(self, credentials: dict[str, Any],
             on_update: Callable[[dict[str, Any]], None] | None = None) -> GoogleProvider:
        tokens = TokenSource(self.oauth(), credentials, on_update=on_update)
        return GoogleProvider(GoogleHttp(self.settings().google_api_url, tokens, timeout=self.timeout))


def _local(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_private
    except ValueError:
        return host.endswith(".localhost") or host.endswith(".local")
