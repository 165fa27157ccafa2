"""Graph v1.0 calendar requests behind one dispatcher: the user, calendars, events (CRUD with
If-Match and transactionId), instances, calendarView and its delta, and subscriptions.

`Api.handle(Call)` serves both the HTTP route and each request of a `$batch`, so a request inside
a batch is authenticated, throttled and faulted exactly like the same request on its own.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlencode

from calsync.emulators.microsoft import delta, extended, ids, instances, render, validate
from calsync.emulators.microsoft.config import EmulatorConfig
from calsync.emulators.microsoft.errors import GraphError, bad_request, item_not_found
from calsync.emulators.microsoft.instances import Instance
from calsync.emulators.microsoft.oauth import AccessToken, Auth, user_object_id
from calsync.emulators.microsoft.prefer import Prefer, parse as parse_prefer
from calsync.emulators.microsoft.store import Calendar, Record, Store
from calsync.emulators.microsoft.subscriptions import Hub
from calsync.emulators.microsoft.throttle import Faults, Limits
from calsync.emulators.microsoft.times import parse_query_instant, render_when
from calsync.emulators.microsoft.wire import Call, Reply, one

READ = {"calendars.read", "calendars.readwrite", "calendars.read.shared", "calendars.readwrite.shared"}
WRITE = {"calendars.readwrite", "calendars.readwrite.shared"}
CONFLICT = ("The send or update operation could not be performed because the change key passed in the request "
            "does not match the current change key for the item.")


def _count(query: dict[str, list[str]], name: str, default: int, cap: int) -> int:
    raw = one(query, name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise bad_request(f"Invalid value '{raw}' for query parameter {name}: use a non-negative integer.",
                          "BadRequest")
    return min(int(raw), cap)


class Api:
    def __init__(self, store: Store, auth: Auth, config: EmulatorConfig, hub: Hub) -> None:
        self.store, self.auth, self.config, self.hub = store, auth, config, hub
        self.limits = Limits(config.requests_per_ten_minutes, config.concurrent_requests)
        self.faults = Faults()
        self.tokens = delta.Tokens(config.delta_token_cache)

    def handle(self, call: Call) -> Reply:
        with self.store.lock:
            try:
                return self._handle(call)
            except GraphError as exc:
                return Reply(exc.status, exc.body(), dict(exc.headers))

    def peek_user(self, authorization: str | None) -> str | None:
        """The mailbox a request acts on, if its token is good (for the concurrency limit)."""
        try:
            return self.auth.authenticate(authorization).user
        except GraphError:
            return None

    def _handle(self, call: Call) -> Reply:
        if not call.path.startswith("/v1.0/"):
            raise GraphError(400, "BadRequest", "Invalid version: use /v1.0/.")
        segments = [unquote(s) for s in call.path[len("/v1.0/"):].split("/") if s != ""]
        fault = self.faults.take(call.method, call.path)
        if fault is not None:
            raise fault
        token = self.auth.authenticate(call.headers.get("authorization"))
        self.limits.charge(token.user, self.store.clock.now())
        prefer = parse_prefer(call.headers.get("prefer"))
        if segments[:1] == ["subscriptions"]:
            return self._subscriptions(call, token, segments[1:], prefer)
        if segments[:1] == ["me"]:
            rest = segments[1:]
        elif segments[:1] == ["users"] and len(segments) >= 2:
            if segments[1].lower() not in (token.user.lower(), user_object_id(token.user)):
                raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            rest = segments[2:]
        else:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segments[0] if segments else ''}'.")
        return self._mailbox(call, token, rest, prefer)

    # helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _need(token: AccessToken, scopes: set[str]) -> None:
        if not token.scopes & scopes:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    @staticmethod
    def _json(call: Call) -> dict[str, Any]:
        try:
            body = json.loads(call.body) if call.body else None
        except ValueError:
            raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and "
                              "payload is of valid JSON format.", "BadRequest") from None
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", "BadRequest")
        return body

    def _render(self, inst: Instance, user: str, prefer: Prefer, query: dict[str, list[str]]) -> dict[str, Any]:
        exceptions = self.store.exceptions_of(user, inst.record) if inst.kind == "seriesMaster" else []
        return render.render(inst, user, prefer, select=render.parse_select(one(query, "$select")),
                             expand=extended.parse_expand(one(query, "$expand")), exceptions=exceptions)

    def _context(self, call: Call, user: str, what: str) -> str:
        return f"{call.base_url}/v1.0/$metadata#users('{user}')/{what}"

    def _headers(self, prefer: Prefer) -> dict[str, str]:
        applied = prefer.applied()
        return {"Preference-Applied": applied} if applied else {}

    @staticmethod
    def _if_match(call: Call, inst: Instance) -> None:
        wanted = call.headers.get("if-match")
        if wanted is None or wanted.strip() == "*":
            return
        bare = lambda v: v.strip().removeprefix("W/").strip('"')  # noqa: E731
        if bare(wanted) != inst.change_key:
            raise GraphError(412, "ErrorIrresolvableConflict", CONFLICT)

    def _page(self, call: Call, items: list[dict[str, Any]], default: int, prefer: Prefer) -> dict[str, Any]:
        size = _count(call.query, "$top", prefer.max_page_size or default, 1000)
        skip = _count(call.query, "$skip", 0, 10**9)
        body: dict[str, Any] = {}
        if skip + size < len(items):
            params = {k: v[0] for k, v in call.query.items() if k != "$skip"}
            params["$skip"] = str(skip + size)
            body["@odata.nextLink"] = call.base_url + call.path + "?" + urlencode(params, safe="$")
        body["value"] = items[skip:skip + size]
        return body

    # routing -----------------------------------------------------------------------------------
    def _mailbox(self, call: Call, token: AccessToken, rest: list[str], prefer: Prefer) -> Reply:
        user, method = token.user, call.method
        if not rest and method == "GET":
            return Reply(200, {"@odata.context": f"{call.base_url}/v1.0/$metadata#users/$entity",
                               "id": user_object_id(user), "displayName": user.split("@")[0], "mail": user,
                               "userPrincipalName": user})
        self._need(token, READ)
        if rest == ["calendars"] and method == "GET":
            cals = [self._calendar_json(c) for c in self.store.mailbox(user).calendars.values()]
            return Reply(200, {"@odata.context": self._context(call, user, "calendars"), "value": cals})
        cal: Calendar | None = None
        if rest[:1] == ["calendars"] and len(rest) >= 2:
            cal, tail = self.store.calendar(user, rest[1]), rest[2:]
        elif rest[:1] == ["calendar"]:
            cal, tail = self.store.mailbox(user).default, rest[1:]
        else:
            tail = rest
        if not tail and cal is not None and method == "GET":
            return Reply(200, {"@odata.context": self._context(call, user, "calendars/$entity"),
                               **self._calendar_json(cal)})
        target = cal or self.store.mailbox(user).default
        if tail == ["events"]:
            if method == "GET":
                return self._list(call, user, target, prefer)
            if method == "POST":
                self._need(token, WRITE)
                return self._create(call, user, target, prefer)
        if len(tail) == 2 and tail[0] == "events":
            inst = instances.resolve(self.store, user, tail[1], self.config.expansion_horizon_days)
            if cal is not None and inst.record.calendar is not cal:
                raise item_not_found()
            if method == "GET":
                return Reply(200, {"@odata.context": self._context(call, user, "events/$entity"),
                                   **self._render(inst, user, prefer, call.query)}, self._headers(prefer))
            if method == "PATCH":
                self._need(token, WRITE)
                return self._patch(call, user, inst, prefer)
            if method == "DELETE":
                self._need(token, WRITE)
                return self._delete(call, user, inst)
        if len(tail) == 3 and tail[0] == "events" and tail[2] == "instances" and method == "GET":
            inst = instances.resolve(self.store, user, tail[1], self.config.expansion_horizon_days)
            return self._instances(call, user, inst, prefer)
        if tail == ["calendarView"] and method == "GET":
            return self._view(call, user, target, prefer)
        if len(tail) == 2 and tail[0] == "calendarView" and tail[1] in ("delta", "delta()") and method == "GET":
            size = prefer.max_page_size or self.config.delta_page_size
            body, headers = delta.delta(self.store, self.tokens, user, target, call.path, call.query, prefer,
                                        call.base_url, lambda i: render.render(i, user, prefer), size,
                                        self.config.expansion_horizon_days)
            return Reply(200, body, headers)
        raise GraphError(400, "BadRequest", f"The emulator does not serve {method} /me/{'/'.join(rest)}.")

    @staticmethod
    def _calendar_json(cal: Calendar) -> dict[str, Any]:
        return {"id": cal.id, "name": cal.name, "color": "auto", "hexColor": "", "isDefaultCalendar": cal.is_default,
                "changeKey": cal.change_key, "canShare": cal.can_edit, "canViewPrivateItems": True,
                "canEdit": cal.can_edit, "allowedOnlineMeetingProviders": ["teamsForBusiness"],
                "defaultOnlineMeetingProvider": "teamsForBusiness", "isTallyingResponses": True,
                "isRemovable": not cal.is_default, "owner": {"name": cal.owner.split("@")[0], "address": cal.owner}}

    # reads ---------------------------------------------------------------------------------------
    def _filtered(self, call: Call, items: list[Instance]) -> list[Instance]:
        """Applies $filter; also checks $select and $expand before anything is rendered."""
        render.parse_select(one(call.query, "$select"))
        extended.parse_expand(one(call.query, "$expand"))
        text = one(call.query, "$filter")
        if text is None:
            return items
        key, value = extended.parse_filter(text)
        assert key is not None
        return [i for i in items if extended.matches(
            (i.master.extended if i.kind == "occurrence" and i.master else i.record.extended), key, value)]

    def _list(self, call: Call, user: str, cal: Calendar, prefer: Prefer) -> Reply:
        """Single events and series masters only (no occurrences), oldest first."""
        found = [instances.of_record(r) for r in self.store.in_calendar(cal) if r.master_key is None]
        found.sort(key=lambda i: (i.record.created, i.record.key))
        found = self._filtered(call, found)
        body = self._page(call, [self._render(i, user, prefer, call.query) for i in found], 10, prefer)
        return Reply(200, {"@odata.context": self._context(call, user, "events"), **body}, self._headers(prefer))

    def _window(self, call: Call) -> tuple[Any, Any]:
        start = parse_query_instant(one(call.query, "startDateTime"), "startDateTime")
        end = parse_query_instant(one(call.query, "endDateTime"), "endDateTime")
        if end <= start:
            raise bad_request("endDateTime must be after startDateTime.", "ErrorInvalidParameter")
        return start, end

    def _view(self, call: Call, user: str, cal: Calendar, prefer: Prefer) -> Reply:
        start, end = self._window(call)
        found = self._filtered(call, instances.view(self.store, cal, start, end, self.config.expansion_horizon_days))
        body = self._page(call, [self._render(i, user, prefer, call.query) for i in found],
                          self.config.calendar_view_page_size, prefer)
        return Reply(200, {"@odata.context": self._context(call, user, "calendarView"), **body}, self._headers(prefer))

    def _instances(self, call: Call, user: str, inst: Instance, prefer: Prefer) -> Reply:
        start, end = self._window(call)
        if inst.kind != "seriesMaster":
            raise bad_request("instances needs the id of a series master.", "ErrorInvalidRequest")
        found = self._filtered(call, [
            i for i in instances.occurrences(self.store, user, inst.record, self.config.expansion_horizon_days)
            if instances.in_window(i, start, end)])
        body = self._page(call, [self._render(i, user, prefer, call.query) for i in found],
                          self.config.calendar_view_page_size, prefer)
        return Reply(200, {"@odata.context": self._context(call, user, "events"), **body}, self._headers(prefer))

    # writes --------------------------------------------------------------------------------------
    def _mail(self, kind: str, user: str, inst: Instance, data: dict[str, Any]) -> None:
        """What Graph would e-mail: invitations on writes that carry attendees, cancellations on delete."""
        attendees = [a["emailAddress"]["address"] for a in data.get("attendees", [])]
        if attendees and not data.get("isDraft"):
            self.store.mail.append({"kind": kind, "from": user, "to": attendees, "subject": data.get("subject", ""),
                                    "event_id": inst.id(user, True), "at": self.store.clock.now().isoformat()})

    def _create(self, call: Call, user: str, cal: Calendar, prefer: Prefer) -> Reply:
        if not cal.can_edit:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        body = self._json(call)
        cleaned = validate.clean(body)
        tx = body.get("transactionId")
        if tx is not None and (not isinstance(tx, str) or not tx or len(tx) > 255):
            raise bad_request("transactionId must be a non-empty string of at most 255 characters.")
        box = self.store.mailbox(user)
        if tx and tx in box.transactions:   # a retried create: the first event, no duplicate
            inst = instances.of_record(box.records[box.transactions[tx]])
            return Reply(201, {"@odata.context": self._context(call, user, "events/$entity"),
                               **self._render(inst, user, prefer, call.query)}, self._headers(prefer))
        data = validate.complete(cleaned, instance=False)
        props = extended.apply({}, body.get("singleValueExtendedProperties", []))
        now = self.store.clock.now()
        record = Record(ids.new_key(), cal, data, "", 0, now, now, transaction_id=tx, extended=props)
        self.store.commit(user, record, "created")
        inst = instances.of_record(record)
        self._mail("invitation", user, inst, data)
        return Reply(201, {"@odata.context": self._context(call, user, "events/$entity"),
                           **self._render(inst, user, prefer, call.query)}, self._headers(prefer))

    def _patch(self, call: Call, user: str, inst: Instance, prefer: Prefer) -> Reply:
        if not inst.record.calendar.can_edit:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        body = self._json(call)
        self._if_match(call, inst)
        cleaned = validate.clean(body)
        if "transactionId" in body and body["transactionId"] != inst.record.transaction_id:
            raise bad_request("transactionId cannot be changed after the event is created.")
        now = self.store.clock.now()
        if inst.kind == "occurrence":   # editing an occurrence makes it an exception
            master = inst.record
            base = {k: v for k, v in master.data.items() if k != "recurrence"}
            zone_name = master.data["start"]["timeZone"]
            base["start"] = render_when(inst.start, zone_name)
            base["end"] = render_when(inst.end, master.data["end"]["timeZone"])
            data = validate.complete({**base, **cleaned}, instance=True)
            record = Record(ids.new_key(), master.calendar, data, "", 0, now, now,
                            extended=extended.apply(master.extended, body.get("singleValueExtendedProperties", [])),
                            master_key=master.key, original_start=inst.original_start)
            self.store.commit(user, record, "updated")
            self.store.commit(user, master, "updated", content=False)
            updated = instances.of_record(record, master)
        else:
            record = inst.record
            data = validate.complete({**record.data, **cleaned}, instance=inst.kind == "exception")
            series_changed = inst.kind == "seriesMaster" and any(
                data.get(k) != record.data.get(k) for k in ("start", "end", "recurrence"))
            record.data = data
            record.extended = extended.apply(record.extended, body.get("singleValueExtendedProperties", []))
            if series_changed:   # Outlook drops a series' exceptions when its times or pattern change
                for child in self.store.exceptions_of(user, record):
                    self.store.remove(user, child)
                record.cancelled.clear()
            self.store.commit(user, record, "updated")
            master = self.store.mailbox(user).records.get(record.master_key) if record.master_key else None
            updated = instances.of_record(record, master)
        self._mail("update", user, updated, updated.record.data)
        return Reply(200, {"@odata.context": self._context(call, user, "events/$entity"),
                           **self._render(updated, user, prefer, call.query)}, self._headers(prefer))

    def _delete(self, call: Call, user: str, inst: Instance) -> Reply:
        if not inst.record.calendar.can_edit:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        self._if_match(call, inst)
        if inst.kind in ("occurrence", "exception"):
            master = inst.master
            assert master is not None and inst.original_start is not None
            if inst.kind == "exception":
                self.store.remove(user, inst.record)
            master.cancelled.add(inst.original_start)
            self.store.commit(user, master, "updated", content=False)
        else:
            for child in self.store.exceptions_of(user, inst.record):
                self.store.remove(user, child)
            self.store.remove(user, inst.record)
        self._mail("cancellation", user, inst, inst.record.data)
        return Reply(204)

    # subscriptions -------------------------------------------------------------------------------
    def _subscriptions(self, call: Call, token: AccessToken, rest: list[str], prefer: Prefer) -> Reply:
        self._need(token, READ)
        hub, user, method = self.hub, token.user, call.method
        if not rest and method == "POST":
            sub = hub.prepare(user, self._json(call), prefer, self.store, call.base_url)
            return Reply(201, pending=lambda: hub.finish(sub, self.store.lock))
        if not rest and method == "GET":
            return Reply(200, {"@odata.context": f"{call.base_url}/v1.0/$metadata#subscriptions",
                               "value": [hub.render(s) for s in hub.of_user(user)]})
        if len(rest) == 1:
            sub = hub.get(user, rest[0])
            if method == "GET":
                return Reply(200, hub.render(sub))
            if method == "PATCH":
                return Reply(200, hub.render(hub.renew(sub, self._json(call))))
            if method == "DELETE":
                hub.delete(sub)
                return Reply(204)
        if len(rest) == 2 and rest[1] == "reauthorize" and method == "POST":
            hub.reauthorize(hub.get(user, rest[0]))
            return Reply(204)
        raise GraphError(400, "BadRequest", f"The emulator does not serve {method} /subscriptions/{'/'.join(rest)}.")
