"""Calendar v3 methods behind one dispatcher: events, instances, watch, channels.stop, calendarList.

`Api.handle(Call)` is used both by the HTTP route and by each part of a batch, so a call inside a
batch behaves (and is counted, faulted and rate-limited) exactly like the same call on its own.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from calsync.emulators.google import listing, recurrence, validate
from calsync.emulators.google.config import EmulatorConfig
from calsync.emulators.google.errors import ApiError, bad_request, not_found
from calsync.emulators.google.oauth import SCOPE_PREFIX, AccessToken, Auth
from calsync.emulators.google.quota import Faults, Quota
from calsync.emulators.google.render import derived_etag, render
from calsync.emulators.google.store import Calendar, Record, Store
from calsync.emulators.google.watch import WatchHub

def _scopes(*names: str) -> frozenset[str]:
    return frozenset(SCOPE_PREFIX + n for n in names)


_READ = _scopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy",
                "calendar.events.owned", "calendar.events.owned.readonly", "calendar.events.public.readonly",
                "calendar.events.readonly", "calendar.readonly")
_WRITE = _scopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned")
# The scopes each method accepts, as the discovery document lists them (a test keeps them equal).
SCOPES: dict[str, frozenset[str]] = {
    "events.list": _READ, "events.get": _READ, "events.instances": _READ, "events.watch": _READ,
    "events.insert": _WRITE, "events.update": _WRITE, "events.patch": _WRITE, "events.delete": _WRITE,
    "calendarList.list": _scopes("calendar", "calendar.calendarlist", "calendar.calendarlist.readonly",
                                 "calendar.readonly"),
    "calendarList.get": _scopes("calendar", "calendar.app.created", "calendar.calendarlist",
                                "calendar.calendarlist.readonly", "calendar.readonly"),
    "calendars.get": _scopes("calendar", "calendar.app.created", "calendar.calendars", "calendar.calendars.readonly",
                             "calendar.readonly"),
    "channels.stop": _READ | _scopes("calendar.acls", "calendar.acls.readonly", "calendar.calendarlist",
                                     "calendar.calendarlist.readonly", "calendar.settings",
                                     "calendar.settings.readonly"),
}
SEND_UPDATES = ("all", "externalOnly", "none")


@dataclass
class Call:
    method: str
    path: str                      # e.g. /calendar/v3/calendars/primary/events (still %-encoded)
    query: dict[str, list[str]]
    headers: dict[str, str]        # lower-case names
    body: bytes
    base_url: str


@dataclass
class Reply:
    status: int
    body: Any = None               # JSON-able, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


def _route(method: str, segments: list[str]) -> tuple[str, dict[str, str]]:
    n = len(segments)
    if segments[:3] == ["users", "me", "calendarList"]:
        if n == 3 and method == "GET":
            return "calendarList.list", {}
        if n == 4 and method == "GET":
            return "calendarList.get", {"calendarId": segments[3]}
    if segments == ["channels", "stop"] and method == "POST":
        return "channels.stop", {}
    if n >= 2 and segments[0] == "calendars":
        cal = {"calendarId": segments[1]}
        if n == 2 and method == "GET":
            return "calendars.get", cal
        if n == 3 and segments[2] == "events":
            if method == "GET":
                return "events.list", cal
            if method == "POST":
                return "events.insert", cal
        if n == 4 and segments[2] == "events" and segments[3] == "watch" and method == "POST":
            return "events.watch", cal
        if n == 4 and segments[2] == "events":
            name = {"GET": "events.get", "PUT": "events.update", "PATCH": "events.patch",
                    "DELETE": "events.delete"}.get(method)
            if name:
                return name, {**cal, "eventId": segments[3]}
        if n == 5 and segments[2] == "events" and segments[4] == "instances" and method == "GET":
            return "events.instances", {**cal, "eventId": segments[3]}
    raise not_found()


class Api:
    def __init__(self, store: Store, auth: Auth, config: EmulatorConfig, hub: WatchHub) -> None:
        self.store, self.auth, self.config, self.hub = store, auth, config, hub
        self.quota = Quota(config.per_user_per_minute, config.per_project_per_minute)
        self.faults = Faults()
        self.pager = listing.Pager()

    def handle(self, call: Call) -> Reply:
        with self.store.lock:
            try:
                return self._handle(call)
            except ApiError as exc:
                return Reply(exc.code, exc.body(), dict(exc.headers))

    def _handle(self, call: Call) -> Reply:
        if not call.path.startswith("/calendar/v3/"):
            raise not_found()
        segments = [unquote(s) for s in call.path[len("/calendar/v3/"):].split("/") if s != ""]
        name, params = _route(call.method, segments)
        fault = self.faults.take(call.method, call.path)
        if fault is not None:
            raise fault
        token = self.auth.authenticate(call.headers.get("authorization"))
        if not SCOPES[name] & set(token.scopes):
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        self.quota.charge(token.user, 3 if name == "events.patch" else 1, self.store.clock.now())
        return getattr(self, "_" + name.replace(".", "_"))(call, token, params)

    # helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _json(call: Call) -> Any:
        if not call.body:
            raise bad_request("Parse Error: the request needs a JSON body.", reason="parseError", location_type="other")
        try:
            return json.loads(call.body)
        except ValueError:
            raise bad_request("Parse Error", reason="parseError", location_type="other") from None

    def _calendar(self, token: AccessToken, params: dict[str, str], write: bool = False) -> Calendar:
        cal = self.store.calendar_for(token.user, params["calendarId"])
        if write and not cal.writable:
            raise ApiError(403, "requiredAccessLevel", "You need to have writer access to this calendar.",
                           domain="calendar")
        return cal

    @staticmethod
    def _send_updates(call: Call) -> None:
        value = listing.one(call.query, "sendUpdates")
        if value is not None and value not in SEND_UPDATES:
            raise bad_request(f"Invalid value for sendUpdates: {value!r} (all, externalOnly or none).",
                              location="sendUpdates")

    def _lookup(self, cal: Calendar, event_id: str) -> tuple[Record | None, dict[str, Any], str, Record | None]:
        """(stored record or None, resource, etag, master) for an event or an unmoved instance id."""
        rec = cal.events.get(event_id)
        if rec is not None:
            return rec, rec.resource, rec.etag, cal.events.get(rec.resource.get("recurringEventId", ""))
        base, sep, suffix = event_id.rpartition("_")
        master = cal.events.get(base) if sep else None
        if master is None or "recurrence" not in master.resource or master.cancelled:
            raise not_found()
        when = recurrence.find_occurrence(master.resource, suffix)
        if when is None:
            raise not_found()
        res = recurrence.generated_instance(master.resource, when)
        if res["id"] != event_id:
            raise not_found()
        return None, res, derived_etag(master.etag, event_id), master

    @staticmethod
    def _if_match(call: Call, etag: str) -> None:
        wanted = call.headers.get("if-match")
        if wanted is not None and wanted != "*" and wanted != etag:
            raise ApiError(412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header")

    def _store(self, cal: Calendar, resource: dict[str, Any], previous: Record | None,
               master: Record | None, *, deleted: bool = False) -> Record:
        """Commits a new version: a new etag always; `updated` moves unless only reminders changed."""
        now = self.store.clock.now()
        seq = self.store.next_seq()
        if previous is None:
            created = master.created if master else now
            record = Record(resource, self.store.new_etag(), seq, created, now)
        else:
            strip = lambda r: {k: v for k, v in r.items() if k != "reminders"}  # noqa: E731
            updated = previous.updated if strip(previous.resource) == strip(resource) else now
            record = Record(resource, self.store.new_etag(), seq, previous.created, updated)
        self.store.commit(cal, record, deleted=deleted)
        return record

    def _conference(self, call: Call, body: dict[str, Any], resource: dict[str, Any],
                    previous: dict[str, Any] | None) -> None:
        """conferenceData is ignored unless conferenceDataVersion=1; a createRequest gets a Meet link."""
        version = listing.one(call.query, "conferenceDataVersion") or "0"
        if version not in ("0", "1"):
            raise bad_request("Invalid conferenceDataVersion (0 or 1).", location="conferenceDataVersion")
        kept = {k: previous[k] for k in ("conferenceData", "hangoutLink") if previous and k in previous}
        resource.pop("conferenceData", None)
        if version != "1" or body.get("conferenceData") is None:
            resource.update(kept)
            return
        data = validate.shaped(body["conferenceData"], validate.CONFERENCE_SHAPE, "conferenceData")
        request = data.get("createRequest")
        if isinstance(request, dict) and "entryPoints" not in data:
            code = "-".join(secrets.token_hex(2)[:3] for _ in range(3))
            link = f"https://meet.emulator.invalid/{code}"
            data["createRequest"] = {**request, "status": {"statusCode": "success"}}
            data["conferenceSolution"] = {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"}
            data["entryPoints"] = [{"entryPointType": "video", "uri": link, "label": link[8:]}]
            data["conferenceId"] = code
            resource["hangoutLink"] = link
        resource["conferenceData"] = data

    # calendars -------------------------------------------------------------------------------
    def _entry(self, cal: Calendar) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "calendar#calendarListEntry", "etag": cal.etag, "id": cal.id, "summary": cal.summary,
            "timeZone": cal.time_zone, "colorId": "14", "backgroundColor": "#9fe1e7", "foregroundColor": "#000000",
            "selected": True, "accessRole": cal.access_role, "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if cal.primary:
            out["primary"] = True
        return out

    def _calendarList_list(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        limit = listing.max_results(call.query, default=100, cap=250)
        order = ("freeBusyReader", "reader", "writer", "owner")
        min_role = listing.one(call.query, "minAccessRole")
        if min_role is not None and min_role not in order + ("writerWithoutPrivateAccess",):
            raise bad_request(f"Invalid value for minAccessRole: {min_role!r}.", location="minAccessRole")
        entries = self.store.calendars_of(token.user)
        if min_role is not None:
            rank = order.index("writer") if min_role == "writerWithoutPrivateAccess" else order.index(min_role)
            entries = [c for c in entries if order.index(c.access_role) >= rank]
        sync = listing.one(call.query, "syncToken")
        if sync is not None:
            if min_role is not None:
                raise bad_request("Sync token cannot be used with other request restrictions.", location="minAccessRole")
            since = self.store.resolve_sync_token(sync, "calendarList:" + token.user)
            entries = [c for c in entries if c.seq > since]
        offset = 0
        page = listing.one(call.query, "pageToken")
        if page is not None:
            if not page.startswith("cl") or not page[2:].isdigit():
                raise bad_request("Invalid pageToken.", location="pageToken")
            offset = int(page[2:])
        items = [self._entry(c) for c in entries[offset:offset + limit]]
        body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": f'"l{self.store.seq}"', "items": items}
        if offset + limit < len(entries):
            body["nextPageToken"] = f"cl{offset + limit}"
        else:
            position = max((c.seq for c in self.store.calendars_of(token.user)), default=0)
            body["nextSyncToken"] = self.store.mint_sync_token("calendarList:" + token.user, position)
        return Reply(200, body)

    def _calendarList_get(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        return Reply(200, self._entry(self._calendar(token, params)))

    def _calendars_get(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params)
        return Reply(200, {"kind": "calendar#calendar", "etag": cal.etag, "id": cal.id, "summary": cal.summary,
                           "timeZone": cal.time_zone,
                           "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}})

    # events ----------------------------------------------------------------------------------
    def _events_list(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params)
        return Reply(200, listing.list_events(self.store, self.config, self.pager, cal, call.query))

    def _events_instances(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params)
        master = cal.events.get(params["eventId"])
        if master is None:
            raise not_found()
        return Reply(200, listing.list_instances(self.store, self.config, self.pager, cal, master, call.query))

    def _events_get(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params)
        rec, res, etag, master = self._lookup(cal, params["eventId"])
        if call.headers.get("if-none-match") == etag:
            return Reply(304, None, {"ETag": etag})
        return Reply(200, render(cal, rec or master, res, etag=etag), {"ETag": etag})  # type: ignore[arg-type]

    def _events_insert(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params, write=True)
        self._send_updates(call)
        body = self._json(call)
        if not isinstance(body, dict):
            raise bad_request("Parse Error: the event must be a JSON object.", reason="parseError")
        if body.get("id") is not None and body.get("iCalUID") is not None:
            raise bad_request("Give either id or iCalUID when creating an event, not both.", location="iCalUID",
                              location_type="other")
        event_id = validate.check_client_id(body["id"]) if body.get("id") is not None else secrets.token_hex(13)
        if event_id in cal.events:
            raise ApiError(409, "duplicate", "The requested identifier already exists.")
        if body.get("eventType") == "fromGmail":
            raise bad_request("Events of type fromGmail cannot be created.", location="eventType")
        resource = validate.normalise(body, is_instance=False)
        self._conference(call, body, resource, None)
        ical = body.get("iCalUID")
        resource = {"id": event_id, "iCalUID": ical if isinstance(ical, str) and ical else f"{event_id}@google.com",
                    "status": "confirmed", **resource}
        record = self._store(cal, resource, None, None, deleted=resource.get("status") == "cancelled")
        return Reply(200, render(cal, record), {"ETag": record.etag})

    def _replace(self, call: Call, token: AccessToken, params: dict[str, str], patch: bool) -> Reply:
        cal = self._calendar(token, params, write=True)
        self._send_updates(call)
        body = self._json(call)
        if not isinstance(body, dict):
            raise bad_request("Parse Error: the event must be a JSON object.", reason="parseError")
        rec, current, etag, master = self._lookup(cal, params["eventId"])
        self._if_match(call, etag)
        is_instance = "recurringEventId" in current
        merged = validate.merge_patch(current, body) if patch else dict(body)
        if not patch:
            merged.setdefault("status", "confirmed")
        if merged.get("eventType", "default") != current.get("eventType", "default"):
            raise bad_request("The event type cannot be changed.", location="eventType")
        resource = validate.normalise(merged, is_instance=is_instance)
        self._conference(call, body, resource, current)
        immutable = {k: current[k] for k in ("id", "iCalUID", "recurringEventId", "originalStartTime") if k in current}
        resource = {**immutable, "status": resource.pop("status", "confirmed"), **resource}
        if rec is not None and resource == rec.resource:
            return Reply(200, render(cal, rec), {"ETag": rec.etag})   # nothing changed: same version
        record = self._store(cal, resource, rec, master, deleted=resource["status"] == "cancelled")
        return Reply(200, render(cal, record), {"ETag": record.etag})

    def _events_update(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        return self._replace(call, token, params, patch=False)

    def _events_patch(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        return self._replace(call, token, params, patch=True)

    def _events_delete(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params, write=True)
        self._send_updates(call)
        rec, current, etag, master = self._lookup(cal, params["eventId"])
        if rec is not None and rec.cancelled:
            raise ApiError(410, "deleted", "Resource has been deleted")
        self._if_match(call, etag)
        self._store(cal, {**current, "status": "cancelled"}, rec, master, deleted=True)
        if "recurrence" in current:   # deleting a series deletes its exceptions too
            for child in [r for r in cal.events.values()
                          if r.resource.get("recurringEventId") == current["id"] and not r.cancelled]:
                self._store(cal, {**child.resource, "status": "cancelled"}, child, None, deleted=True)
        return Reply(204)

    def _events_watch(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        cal = self._calendar(token, params)
        return Reply(200, self.hub.watch(token.user, cal.id, self._json(call), call.base_url))

    def _channels_stop(self, call: Call, token: AccessToken, params: dict[str, str]) -> Reply:
        self.hub.stop(token.user, self._json(call))
        return Reply(204)


