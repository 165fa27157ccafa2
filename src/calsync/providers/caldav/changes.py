"""Listing changes: RFC 6578 sync-collection plus bulk calendar-multiget, never one GET per
object. Without sync-collection: a ctag check, then an etag listing compared with the last one.

Cursors are text: "st:<sync-token>" or "ct:<packed ctag and etags>". Full listings (no cursor)
are restricted to the window with a calendar-query time-range, so a first import reads only
upcoming items. Pages are multiget batches; the page token carries the hrefs still to read."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from calsync.providers.caldav import davxml
from calsync.providers.caldav.davxml import CALDAV, CS, DAV, tag
from calsync.providers.caldav.http import DavClient
from calsync.providers.caldav.objects import MAX_OCCURRENCES, expand
from calsync.sync.model import ChangeSet, EventKey, Removal
from calsync.sync.provider import CursorExpired, ProviderError, Window

SYNC = "st:"
CTAG = "ct:"


def norm(href: str) -> str:
    """One spelling for an object's href: the unquoted path."""
    return unquote(urlsplit(href).path)


def wire(path: str) -> str:
    return quote(path, safe="/@:+,;=!$&'()*~")


def pack(data: object) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(data, separators=(",", ":")).encode())).decode()


def unpack(text: str) -> object:
    try:
        return json.loads(zlib.decompress(base64.urlsafe_b64decode(text.encode())))
    except Exception as exc:
        raise CursorExpired("the stored CalDAV cursor cannot be read; a full listing is needed") from exc


@dataclass
class Lister:
    """Lists one calendar collection's changes for one connection."""

    client: DavClient
    page_size: int = 1000
    use_sync_collection: bool | None = None  # None: find out (and remember) on first use
    capabilities: dict[str, bool] = field(default_factory=dict)
    max_occurrences: int = MAX_OCCURRENCES  # per series (CALSYNC_MAX_OCCURRENCES_PER_SERIES)

    # -------------------------------------------------------------- entry point

    def list_changes(self, calendar_url: str, cursor: str | None, window: Window, page: str | None) -> ChangeSet:
        if page is not None:
            state = unpack(page)
            assert isinstance(state, dict)
            return self._fetch_page(calendar_url, state["h"], state["c"], window, bool(state["f"]),
                                    upcoming_only=bool(state.get("u")), total=state.get("n"))
        if cursor is None:
            return self._full(calendar_url, window)
        if cursor.startswith(SYNC):
            return self._incremental_sync(calendar_url, cursor[len(SYNC):], window)
        if cursor.startswith(CTAG):
            return self._incremental_ctag(calendar_url, cursor[len(CTAG):], window)
        raise CursorExpired("unknown CalDAV cursor format; a full listing is needed")

    # -------------------------------------------------------------- full listing

    def _full(self, calendar_url: str, window: Window) -> ChangeSet:
        cursor, members = self._sync_cursor(calendar_url)
        if cursor is None:
            ctag, etags = self._etag_listing(calendar_url)
            cursor, members = CTAG + pack({"t": ctag, "e": etags}), sorted(etags)
        own = norm(calendar_url)
        try:
            response = self.client.report(calendar_url, davxml.query_time_range(window.start, None))
            status = self.client.expect_multistatus(response, "REPORT calendar-query", calendar_url)
        except ProviderError:
            # Some servers fail the whole query on one broken object (Xandikos answers 500):
            # read every member instead and apply the window here.
            result = self._fetch_page(calendar_url, members, cursor, window, True, upcoming_only=True)
        else:
            hrefs = sorted({norm(r.href) for r in status.responses if norm(r.href) != own and r.status in (None, 200)})
            result = self._fetch_page(calendar_url, hrefs, cursor, window, True)
        result.members = list(members)  # the membership listing: what is in it is not deleted
        return result

    def fetch(self, calendar_url: str, hrefs: list[str], window: Window) -> ChangeSet:
        """Named objects through calendar-multiget in batches: events, tombstones (404) and
        unreadable objects, as one ChangeSet."""
        merged = ChangeSet()
        names = sorted({norm(h) for h in hrefs})
        for start in range(0, len(names), self.page_size):
            part = self._fetch_page(calendar_url, names[start:start + self.page_size], "", window, False)
            merged.events.extend(part.events)
            merged.deleted.extend(part.deleted)
            merged.skipped.extend(part.skipped)
            merged.complete_series.extend(part.complete_series)
        return merged

    def _sync_cursor(self, calendar_url: str) -> tuple[str | None, list[str]]:
        """A fresh sync token (sync-collection with an empty token) and every member's href,
        or (None, []) when the server has no sync-collection."""
        if self.use_sync_collection is False:
            return None, []
        response = self.client.report(calendar_url, davxml.sync_collection(None), depth="0")
        if response.status_code != 207:
            self.use_sync_collection = False
            return None, []
        status = self.client.expect_multistatus(response, "REPORT sync-collection", calendar_url)
        if not status.sync_token:
            self.use_sync_collection = False
            return None, []
        self.use_sync_collection = True
        own = norm(calendar_url)
        members = sorted({norm(r.href) for r in status.responses if r.status != 404 and norm(r.href) != own})
        return SYNC + status.sync_token, members

    # -------------------------------------------------------------- sync-collection

    def _incremental_sync(self, calendar_url: str, token: str, window: Window) -> ChangeSet:
        response = self.client.report(calendar_url, davxml.sync_collection(token), depth="0")
        if response.status_code in (403, 409, 412):
            conditions = davxml.error_conditions(response.content)
            if "valid-sync-token" in conditions or response.status_code == 412 or not conditions:
                raise CursorExpired("the calendar server no longer knows the sync token; a full listing is needed")
        if response.status_code == 400 and "sync" in response.text.lower():
            raise CursorExpired("the calendar server rejected the sync token; a full listing is needed")
        status = self.client.expect_multistatus(response, "REPORT sync-collection", calendar_url)
        if not status.sync_token:
            raise ProviderError("the calendar server answered sync-collection without a new sync token")
        own = norm(calendar_url)
        changed: list[str] = []
        deleted: list[str] = []
        for item in status.responses:
            href = norm(item.href)
            if href == own:
                continue  # iCloud lists the collection itself
            if item.status == 404:
                deleted.append(href)
            else:
                changed.append(href)
        result = self._fetch_page(calendar_url, sorted(set(changed)), SYNC + status.sync_token, window, False)
        self._add_deleted(result, calendar_url, deleted)
        return result

    # -------------------------------------------------------------- ctag + etags fallback

    def _ctag(self, calendar_url: str) -> str | None:
        status = self.client.propfind(calendar_url, "CS:getctag", "D:sync-token")
        for item in status.responses:
            return item.text(tag(CS, "getctag")) or item.text(tag(DAV, "sync-token"))
        return None

    def _etag_listing(self, calendar_url: str) -> tuple[str | None, dict[str, str]]:
        ctag = self._ctag(calendar_url)
        status = self.client.propfind(calendar_url, "D:getetag", "D:resourcetype", depth="1")
        own = norm(calendar_url)
        etags = {
            norm(r.href): r.text(tag(DAV, "getetag")) or ""
            for r in status.responses
            if norm(r.href) != own
        }
        return ctag, etags

    def _incremental_ctag(self, calendar_url: str, packed: str, window: Window) -> ChangeSet:
        state = unpack(packed)
        assert isinstance(state, dict)
        if state.get("t") and self._ctag(calendar_url) == state["t"]:
            return ChangeSet(cursor=CTAG + packed)
        ctag, etags = self._etag_listing(calendar_url)
        old: dict[str, str] = state.get("e", {})
        changed = sorted(h for h, e in etags.items() if old.get(h) != e)
        deleted = sorted(h for h in old if h not in etags)
        result = self._fetch_page(calendar_url, changed, CTAG + pack({"t": ctag, "e": etags}), window, False)
        self._add_deleted(result, calendar_url, deleted)
        return result

    # -------------------------------------------------------------- multiget pages

    def _add_deleted(self, result: ChangeSet, calendar_url: str, hrefs: list[str]) -> None:
        for href in hrefs:
            result.deleted.append(Removal(EventKey(calendar_url, href, "")))
            result.complete_series.append(href)  # a gone series has no occurrences left

    def multiget(self, calendar_url: str, hrefs: list[str]) -> list[davxml.DavResponse]:
        if not hrefs:
            return []
        response = self.client.report(calendar_url, davxml.multiget([wire(h) for h in hrefs]))
        return self.client.expect_multistatus(response, "REPORT calendar-multiget", calendar_url).responses

    def _fetch_page(self, calendar_url: str, hrefs: list[str], cursor: str, window: Window, full: bool,
                    *, upcoming_only: bool = False, total: int | None = None) -> ChangeSet:
        """One multiget batch. `upcoming_only` drops single events over before the window (when
        the server could not filter with a time-range query). `total`: the objects of the whole
        listing (the first page counts them; later pages carry the number), for progress."""
        batch, rest = hrefs[: self.page_size], hrefs[self.page_size :]
        total = len(hrefs) if total is None else total
        result = ChangeSet(full=full, total=total, objects=len(batch))
        for item in self.multiget(calendar_url, batch):
            href = norm(item.href)
            data = item.text(tag(CALDAV, "calendar-data"))
            if item.status == 404 or data is None:
                if item.status == 404 or tag(CALDAV, "calendar-data") in item.missing:
                    result.deleted.append(Removal(EventKey(calendar_url, href, "")))
                    result.complete_series.append(href)
                continue
            etag = item.text(tag(DAV, "getetag"))
            expanded = expand(calendar_url, href, etag, data, window, self.max_occurrences)
            if expanded.cut and expanded.events:
                first = expanded.events[0]
                label = "a private event" if first.is_private else f"event \"{first.summary[:80]}\""
                result.notes.append((label, expanded.cut))
            if expanded.skipped:
                result.skipped.append((href, expanded.skipped))
                continue
            if upcoming_only and expanded.series_id is None:
                expanded.events = [e for e in expanded.events if not e.ends_before(window.start)]
            result.events.extend(expanded.events)
            # an occurrence moved out of the window still exists: not a deletion
            result.deleted += [Removal(EventKey(calendar_url, href, rid), "left_window") for rid in expanded.outside]
            if expanded.series_id:
                result.complete_series.append(expanded.series_id)
        if rest:
            result.next_page = pack({"h": rest, "c": cursor, "f": full, "u": upcoming_only, "n": total})
        else:
            result.cursor = cursor
        return result
