"""WebDAV/CalDAV XML: request bodies we send and the multistatus answers we read.

Kept apart from HTTP so both can be read (and tested) on their own."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from lxml import etree

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"
ICAL = "http://apple.com/ns/ical/"
NS = {"D": DAV, "C": CALDAV, "CS": CS, "A": ICAL}

_HEAD = '<?xml version="1.0" encoding="utf-8"?>'
_XMLNS = f'xmlns:D="{DAV}" xmlns:C="{CALDAV}" xmlns:CS="{CS}" xmlns:A="{ICAL}"'


def tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


@dataclass
class DavResponse:
    """One <D:response>: the member href, its overall status (for 404 members of a
    sync-collection) and the properties found (200) or missing."""

    href: str
    status: int | None = None
    props: dict[str, etree._Element] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)

    def text(self, key: str) -> str | None:
        element = self.props.get(key)
        if element is None:
            return None
        return (element.text or "").strip()

    def hrefs(self, key: str) -> list[str]:
        element = self.props.get(key)
        if element is None:
            return []
        return [(h.text or "").strip() for h in element.iter(tag(DAV, "href"))]


@dataclass
class Multistatus:
    responses: list[DavResponse]
    sync_token: str | None = None


def _status_code(text: str | None) -> int | None:
    if not text:
        return None
    parts = text.split()
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


def parse_multistatus(body: bytes) -> Multistatus:
    """Reads a 207 body; raises ValueError when it is not a DAV multistatus."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    root = etree.fromstring(body, parser)
    if root.tag != tag(DAV, "multistatus"):
        raise ValueError(f"expected a DAV multistatus, got {root.tag}")
    responses: list[DavResponse] = []
    for node in root.findall("D:response", NS):
        href = (node.findtext("D:href", default="", namespaces=NS) or "").strip()
        item = DavResponse(href=href, status=_status_code(node.findtext("D:status", namespaces=NS)))
        for propstat in node.findall("D:propstat", NS):
            code = _status_code(propstat.findtext("D:status", namespaces=NS)) or 200
            prop = propstat.find("D:prop", NS)
            if prop is None:
                continue
            for child in prop:
                if not isinstance(child.tag, str):
                    continue
                if 200 <= code < 300:
                    item.props[child.tag] = child
                else:
                    item.missing.add(child.tag)
        responses.append(item)
    token = root.findtext("D:sync-token", namespaces=NS)
    return Multistatus(responses, token.strip() if token else None)


def error_conditions(body: bytes) -> set[str]:
    """The precondition names in a <D:error> body (e.g. 'valid-sync-token', 'no-uid-conflict')."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return set()
    if root.tag != tag(DAV, "error"):
        return set()
    return {etree.QName(child).localname for child in root if isinstance(child.tag, str)}


def propfind(*props: str) -> str:
    """PROPFIND body; `props` are prefixed names such as 'D:getetag' or 'C:calendar-home-set'."""
    inner = "".join(f"<{p}/>" for p in props)
    return f"{_HEAD}<D:propfind {_XMLNS}><D:prop>{inner}</D:prop></D:propfind>"


def sync_collection(token: str | None, *, with_data: bool = False) -> str:
    """RFC 6578 sync-collection. No DAV:limit: several servers ignore it or break on it."""
    data = "<C:calendar-data/>" if with_data else ""
    return (
        f"{_HEAD}<D:sync-collection {_XMLNS}><D:sync-token>{escape(token or '')}</D:sync-token>"
        f"<D:sync-level>1</D:sync-level><D:prop><D:getetag/>{data}</D:prop></D:sync-collection>"
    )


def multiget(hrefs: list[str]) -> str:
    refs = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    return (
        f"{_HEAD}<C:calendar-multiget {_XMLNS}><D:prop><D:getetag/><C:calendar-data/></D:prop>"
        f"{refs}</C:calendar-multiget>"
    )


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def query_time_range(start: dt.datetime, end: dt.datetime | None, *, with_data: bool = False) -> str:
    """calendar-query for VEVENTs overlapping [start, end) (recurring ones if any instance does);
    with no end, everything that has not ended at `start`."""
    data = "<C:calendar-data/>" if with_data else ""
    until = f' end="{_utc(end)}"' if end is not None else ""
    return (
        f"{_HEAD}<C:calendar-query {_XMLNS}><D:prop><D:getetag/>{data}</D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{_utc(start)}"{until}/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )


def query_property(name: str, value: str) -> str:
    """calendar-query for VEVENTs whose property `name` equals `value`."""
    return (
        f"{_HEAD}<C:calendar-query {_XMLNS}><D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:prop-filter name="{escape(name)}"><C:text-match collation="i;octet" match-type="equals">'
        f"{escape(value)}</C:text-match></C:prop-filter>"
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )
