"""Finding the calendars behind a URL the way CalDAV clients do: the URL itself or
/.well-known/caldav -> DAV:current-user-principal -> CALDAV:calendar-home-set -> the
collections in it that hold events (writable or not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from calsync.providers.caldav import davxml
from calsync.providers.caldav.davxml import CALDAV, CS, DAV, ICAL, tag
from calsync.providers.caldav.http import DavClient
from calsync.sync.model import CalendarInfo
from calsync.sync.provider import ProviderError

_WRITE = {"write", "write-content", "all", "bind"}


class NotCalDav(Exception):
    """The URL answers, but not as a CalDAV server (no principal, no calendar home)."""


@dataclass
class Discovery:
    principal_url: str
    home_url: str
    calendars: list[CalendarInfo] = field(default_factory=list)
    given_calendar: str | None = None  # set when the URL entered was a calendar itself


def _candidates(url: str) -> list[str]:
    parts = urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}/"
    found = [url]
    for extra in (urljoin(root, "/.well-known/caldav"), root):
        if extra not in found:
            found.append(extra)
    return found


def find_principal(client: DavClient, url: str) -> tuple[str, str | None]:
    """The principal URL, and the URL entered when it was itself a calendar collection."""
    last_status = None
    for candidate in _candidates(url):
        response = client.send("PROPFIND", candidate, body=davxml.propfind(
            "D:current-user-principal", "D:resourcetype", "C:calendar-home-set"), headers={"Depth": "0"},
            any_status=True)
        last_status = response.status_code
        if response.status_code != 207:
            continue
        try:
            status = davxml.parse_multistatus(response.content)
        except Exception:
            continue
        for item in status.responses:
            resourcetype = item.props.get(tag(DAV, "resourcetype"))
            is_calendar = resourcetype is not None and resourcetype.find(tag(CALDAV, "calendar")) is not None
            principal = item.hrefs(tag(DAV, "current-user-principal"))
            if principal:
                base = str(response.url)
                return urljoin(base, principal[0]), (base if is_calendar else None)
            if item.hrefs(tag(CALDAV, "calendar-home-set")):
                return str(response.url), None
    raise NotCalDav(f"no CalDAV principal found (last answer: HTTP {last_status})")


def find_home(client: DavClient, principal_url: str) -> str:
    status = client.propfind(principal_url, "C:calendar-home-set")
    for item in status.responses:
        homes = item.hrefs(tag(CALDAV, "calendar-home-set"))
        if homes:
            return urljoin(principal_url, homes[0])
    raise NotCalDav("the server names no calendar home (CALDAV:calendar-home-set)")


def own_address(client: DavClient, principal_url: str) -> str | None:
    """The account's e-mail from CALDAV:calendar-user-address-set (RFC 6638), or None when the
    server names none (Radicale and Xandikos give only paths)."""
    try:
        status = client.propfind(principal_url, "C:calendar-user-address-set")
    except ProviderError:
        return None
    for item in status.responses:
        for href in item.hrefs(tag(CALDAV, "calendar-user-address-set")):
            if href.lower().startswith("mailto:") and "@" in href:
                return href[7:].strip().lower()
    return None


def list_calendars(client: DavClient, home_url: str, *, depth: str = "1") -> list[CalendarInfo]:
    """The collections in the home that can hold VEVENTs; `writable` from the privilege set.
    With depth "0", the calendar at `home_url` itself."""
    status = client.propfind(
        home_url, "D:resourcetype", "D:displayname", "D:current-user-privilege-set",
        "C:supported-calendar-component-set", "A:calendar-color", depth=depth,
    )
    calendars: list[CalendarInfo] = []
    for item in status.responses:
        resourcetype = item.props.get(tag(DAV, "resourcetype"))
        if resourcetype is None or resourcetype.find(tag(CALDAV, "calendar")) is None:
            continue
        components = item.props.get(tag(CALDAV, "supported-calendar-component-set"))
        if components is not None:
            names = {c.get("name", "").upper() for c in components.iter(tag(CALDAV, "comp"))}
            if names and "VEVENT" not in names:
                continue
        privileges = item.props.get(tag(DAV, "current-user-privilege-set"))
        writable = True
        if privileges is not None:
            granted = {
                child.tag.split("}")[-1]
                for privilege in privileges.iter(tag(DAV, "privilege"))
                for child in privilege if isinstance(child.tag, str)
            }
            writable = bool(granted & _WRITE)
        url = urljoin(home_url, item.href)
        name = item.text(tag(DAV, "displayname")) or url.rstrip("/").rsplit("/", 1)[-1]
        color = item.text(tag(ICAL, "calendar-color")) or None
        calendars.append(CalendarInfo(id=url, name=name, writable=writable, color=color))
    calendars.sort(key=lambda c: (not c.writable, c.name.lower()))
    if calendars:
        preferred = next((c for c in calendars if c.writable), calendars[0])
        preferred.primary = True
    return calendars


def discover(client: DavClient, url: str) -> Discovery:
    principal, given = find_principal(client, url)
    try:
        home = find_home(client, principal)
    except ProviderError as exc:
        raise NotCalDav(str(exc)) from exc
    result = Discovery(principal_url=principal, home_url=home, given_calendar=given)
    result.calendars = list_calendars(client, home)
    return result


__all__ = ["Discovery", "NotCalDav", "discover", "list_calendars", "CS"]
