"""Connecting a CalDAV account: checks what the user entered by talking to the server, and
answers in words that say what to fix (wrong password, not a CalDAV server, read-only calendar,
an e-mail server instead of a calendar server)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin, urlsplit

from calsync.providers.caldav import discovery
from calsync.providers.caldav.changes import norm
from calsync.providers.caldav.http import UNREACHABLE, AddressNotAllowed, DavClient
from calsync.providers.caldav.provider import CalDavProvider
from calsync.sync.model import CalendarInfo
from calsync.sync.provider import AuthError, ConnectError, ProviderError

log = logging.getLogger("calsync.providers.caldav")
NOT_SUPPORTED = (
    "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV calendar "
    "(IMAP, POP and SMTP are e-mail protocols; enter your calendar server's CalDAV address)"
)
_MAIL_SCHEMES = {"imap", "imaps", "pop", "pop3", "pop3s", "pops", "smtp", "smtps", "submission", "mailto"}
_MAIL_HOST_PREFIXES = ("imap.", "imap4.", "pop.", "pop3.", "smtp.", "mx.")
_MAIL_PORTS = {25, 110, 143, 465, 587, 993, 995}
WRONG_PASSWORD = (
    "the calendar server refused the user name or password: check both "
    "(iCloud, Fastmail and many others need an app-specific password)"
)


def normalise_url(raw: str) -> str:
    """What the user typed as a CalDAV URL, or ConnectError (with the e-mail protocols refused)."""
    text = (raw or "").strip()
    if not text:
        raise ConnectError("enter the address (URL) of your CalDAV server", field="url")
    lowered = text.lower()
    scheme = lowered.split(":", 1)[0] if ":" in lowered else ""
    if scheme in _MAIL_SCHEMES:
        raise ConnectError(NOT_SUPPORTED, field="url")
    if "://" not in text and "@" in text and "/" not in text:
        raise ConnectError(NOT_SUPPORTED + ": an e-mail address is not a calendar server", field="url")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(f"'{raw}' is not an http(s) address of a CalDAV server", field="url")
    if parts.hostname.lower().startswith(_MAIL_HOST_PREFIXES):
        raise ConnectError(NOT_SUPPORTED, field="url")
    try:
        port = parts.port
    except ValueError:
        raise ConnectError(f"'{raw}' has an invalid port", field="url") from None
    if port in _MAIL_PORTS:
        raise ConnectError(NOT_SUPPORTED, field="url")
    if not parts.path:
        text += "/"
    return text


def _pick(calendars: list[CalendarInfo], wanted: str | None, given: str | None, username: str) -> CalendarInfo:
    if not calendars:
        raise ConnectError(f"no calendar that holds events was found for {username}: create one first",
                           field="calendar")
    names = ", ".join(f"'{c.name}'" for c in calendars)
    if wanted:
        key = wanted.strip()
        matches = [
            c for c in calendars
            if c.name.lower() == key.lower() or c.id == key or norm(c.id).rstrip("/") == norm(key).rstrip("/")
        ]
        if not matches:
            raise ConnectError(f"there is no calendar '{wanted}' for {username}; the calendars are {names}",
                               field="calendar")
        chosen = matches[0]
    elif given:
        chosen = next((c for c in calendars if norm(c.id) == norm(given)), calendars[0])
    else:
        chosen = next((c for c in calendars if c.primary), calendars[0])
    if not chosen.writable:
        writable = ", ".join(f"'{c.name}'" for c in calendars if c.writable) or "none"
        raise ConnectError(
            f"the calendar '{chosen.name}' is read-only for {username}: calendar sync writes to it; "
            f"pick a calendar you can change (writable: {writable})",
            field="calendar",
        )
    return chosen


class CalDavFactory:
    """ProviderFactory for CalDAV. Params: url, username, password, calendar (optional name or URL)."""

    name = "caldav"
    label = "CalDAV (iCloud, Fastmail, Nextcloud, Radicale, ...)"

    def __init__(self, *, timeout: float = 20.0) -> None:
        self.timeout = timeout

    def connect(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        url = normalise_url(str(params.get("url") or ""))
        username = str(params.get("username") or "").strip()
        password = str(params.get("password") or "")
        if not username:
            raise ConnectError("enter the user name of the calendar account", field="username")
        if not password:
            raise ConnectError("enter the password (or app-specific password) of the calendar account",
                               field="password")
        wanted = params.get("calendar")
        client = DavClient(url, username, password, timeout=self.timeout, guarded=True)
        try:
            found = discovery.discover(client, url)
            calendars = found.calendars
            if wanted and ("://" in str(wanted) or str(wanted).startswith("/")):
                direct = urljoin(url, str(wanted))
                if not any(norm(c.id) == norm(direct) for c in calendars):
                    calendars = calendars + _direct(client, direct)
            chosen = _pick(calendars, str(wanted) if wanted else None, found.given_calendar, username)
            address = discovery.own_address(client, found.principal_url) or (username if "@" in username else None)
        except AuthError:
            raise ConnectError(WRONG_PASSWORD, field="password") from None
        except AddressNotAllowed as exc:
            raise ConnectError(exc.message, field="url") from None
        except (discovery.NotCalDav, ProviderError) as exc:
            # What the target answered (status codes, socket errors) is not repeated to the user:
            # it would turn this form into a scanner of whatever the address points at.
            log.info("CalDAV connect to %s failed: %s", url, exc)
            raise ConnectError(f"{UNREACHABLE} ({url}): check the address", field="url") from None
        finally:
            client.close()
        host = urlsplit(url).hostname or url
        credentials = {
            "url": url,
            "home_url": found.home_url,
            "username": username,
            "password": password,
            "calendar_id": chosen.id,
            "calendar_name": chosen.name,
            "address": address,
        }
        return f"{username} on {host}", credentials

    def open(self, credentials: dict[str, Any]) -> CalDavProvider:
        if not credentials.get("url"):
            raise AuthError("the stored calendar connection has no server address: reconnect the calendar")
        # The built-in calendar is this app itself, on an address it set: no address check, and no
        # share of the rate limit meant for outside servers.
        return CalDavProvider(
            str(credentials["url"]),
            credentials.get("username"),
            credentials.get("password"),
            home_url=credentials.get("home_url"),
            timeout=self.timeout,
            chosen_calendar=credentials.get("calendar_id"),
            own_address=credentials.get("address") or credentials.get("owner_email"),
            guarded=not credentials.get("embedded"),
            rate_limited=not credentials.get("embedded"),
        )


def _direct(client: DavClient, url: str) -> list[CalendarInfo]:
    """The calendar at `url` itself (a calendar shared from another account is not in the home)."""
    try:
        infos = discovery.list_calendars(client, url, depth="0")
    except ProviderError:
        return []
    return infos
