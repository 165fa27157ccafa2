"""Connecting a Microsoft 365 / Outlook.com account. It connects through OAuth (the web app's
`/oauth/microsoft/start` and callback), so `connect` takes the callback's authorization code and
PKCE verifier; `open` reopens a stored connection with its tokens (renewed ones are stored)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from calsync.config import Settings, get_settings
from calsync.providers.microsoft import push
from calsync.providers.microsoft.auth import RECONNECT, OAuthClient
from calsync.providers.microsoft.http import GraphHttp
from calsync.providers.microsoft.mailbox import Mailbox
from calsync.providers.microsoft.provider import MicrosoftProvider
from calsync.providers.tokens import TokenSource
from calsync.sync.provider import AuthError, ConnectError, ProviderError

CALLBACK_PATH = "/oauth/microsoft/callback"
USE_OAUTH = ("Microsoft 365 connects through Microsoft's sign-in page: use \"Connect Microsoft 365\" "
             "in Settings › Calendar sync")


class MicrosoftFactory:
    """ProviderFactory for Microsoft 365 and Outlook.com, configured by the CALSYNC_MICROSOFT_* settings."""

    name = "microsoft"
    label = "Microsoft 365"
    renews_credentials = True  # open() takes on_update: refreshed and rotated tokens are stored
    # Graph mails attendees on any write that carries them: with invitations off they are not written.
    attendees_need_invitations = True

    def __init__(self, settings: Callable[[], Settings] = get_settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    @property
    def configured(self) -> bool:
        """True when a client id is set (the settings page offers Microsoft 365 only then)."""
        return bool(self.settings().microsoft_client_id)

    def oauth(self) -> OAuthClient:
        s = self.settings()
        if not s.microsoft_client_id:
            raise ConnectError("Microsoft 365 is not set up on this server: set CALSYNC_MICROSOFT_CLIENT_ID and "
                               "CALSYNC_MICROSOFT_CLIENT_SECRET", field="provider")
        return OAuthClient(s.microsoft_client_id, s.microsoft_client_secret, s.microsoft_login_url,
                           s.microsoft_tenant or "common", self.timeout, s.resolved_public_url() + CALLBACK_PATH)

    def connect(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Params: `code` and `code_verifier` from the OAuth callback. Returns the mailbox's
        address and the tokens to store."""
        code, verifier = str(params.get("code") or ""), str(params.get("code_verifier") or "")
        if not code or not verifier:
            raise ConnectError(USE_OAUTH, field="provider")
        try:
            credentials = self.oauth().exchange(code, verifier)
            mailbox = self.mailbox(credentials)
            try:
                me = mailbox.me()
            finally:
                mailbox.close()
        except AuthError as exc:
            raise ConnectError(f"Microsoft refused the connection: {exc.message}", field="provider") from None
        except ProviderError as exc:
            raise ConnectError(f"cannot talk to Microsoft Graph: {exc.message}", field="provider") from None
        email = str(me.get("mail") or me.get("userPrincipalName") or "Microsoft account")
        credentials["email"] = email
        return email, credentials

    def push_reaches(self, address: str) -> bool:
        """Whether Graph can POST notifications to `address`: an https address that is not on
        this machine, or any address when Graph itself runs here (the emulator)."""
        if _local(urlsplit(self.settings().microsoft_graph_url).hostname):
            return True
        target = urlsplit(address)
        return target.scheme == "https" and not _local(target.hostname)

    @staticmethod
    def validation(query: Mapping[str, str]) -> str | None:
        """Graph's validation handshake: the token to echo as text/plain, or None."""
        return push.validation_token(query)

    @staticmethod
    def notification(headers: Mapping[str, str], channel: Mapping[str, Any], body: bytes = b"") -> str | None:
        """"changed", "reauthorize", "recreate" or None (not this subscription's)."""
        return push.verify(body, channel)

    def mailbox(self, credentials: dict[str, Any],
                on_update: Callable[[dict[str, Any]], None] | None = None) -> Mailbox:
        """The connection (calendars, subscriptions and, as MicrosoftProvider, sync and writes)."""
        return self.open(credentials, on_update)

    def open(self, credentials: dict[str, Any],
             on_update: Callable[[dict[str, Any]], None] | None = None) -> MicrosoftProvider:
        tokens = TokenSource(self.oauth(), credentials, on_update=on_update, reconnect=RECONNECT)
        return MicrosoftProvider(GraphHttp(self.settings().microsoft_graph_url, tokens, timeout=self.timeout))

def _local(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_private
    except ValueError:
        return host.endswith(".localhost") or host.endswith(".local")
