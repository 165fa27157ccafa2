"""Test controls under `/_emulator/`: read the request log, act as a user, inject failures.

None of these exist at Microsoft; they let tests do what a person does in Outlook (edit, move an
event to another calendar) or what Microsoft's service does to a client (revoked grants, evicted
delta tokens, throttling, lifecycle notifications). Same style as the Google emulator's controls.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calsync.emulators.common.controls import ControlError, non_negative_int, user_of, wrap
from calsync.emulators.microsoft import instances
from calsync.emulators.microsoft.errors import GraphError
from calsync.emulators.microsoft.oauth import AADSTS, ALL_CALENDAR
from calsync.emulators.microsoft.subscriptions import LIFECYCLE_EVENTS
from calsync.emulators.microsoft.throttle import Fault

if TYPE_CHECKING:
    from calsync.emulators.microsoft.app import Emulator


def routes(emu: "Emulator") -> list[Route]:
    def control(handler: Any) -> Any:
        return wrap(emu.store.lock, handler)

    def requests_(request: Request, data: dict[str, Any]) -> Any:
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            raise ControlError("since must be a request sequence number")
        return {"requests": emu.log.since(int(since))}

    def token(request: Request, data: dict[str, Any]) -> Any:
        user = user_of(data, emu.store.users)
        scopes = data.get("scopes") or ALL_CALENDAR
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ControlError("scopes must be a list such as [\"Calendars.Read\"]")
        access, seconds = emu.auth.issue_access(user, scopes, None)
        return {"access_token": access, "expires_in": seconds, "token_type": "Bearer"}

    def revoke(request: Request, data: dict[str, Any]) -> Any:
        user = user_of(data, emu.store.users)
        code = non_negative_int(data, "code", 50173) or 50173
        if code not in AADSTS:
            raise ControlError(f"code must be one of the AADSTS codes {', '.join(map(str, AADSTS))}")
        return {"revoked_grants": emu.auth.revoke_user(user, code)}

    def expire_access_tokens(request: Request, data: dict[str, Any]) -> Any:
        emu.auth.expire_access_tokens()
        return {"ok": True}

    def expire_sync_tokens(request: Request, data: dict[str, Any]) -> Any:
        mode = data.get("mode", "evict")
        if mode not in ("evict", "resync"):
            raise ControlError("mode must be evict (410 SyncStateNotFound) or resync (410 resyncRequired + Location)")
        return {"expired": emu.api.tokens.expire(mode), "mode": mode}

    def delta_options(request: Request, data: dict[str, Any]) -> Any:
        options = emu.api.tokens.options
        if "left_window_reason" in data:
            if data["left_window_reason"] not in ("changed", "deleted"):
                raise ControlError("left_window_reason must be changed or deleted")
            options.left_window_reason = data["left_window_reason"]
        for name in ("out_of_range_removals", "duplicate_items"):
            if name in data:
                setattr(options, name, bool(data[name]))
        if "cache_size" in data:
            emu.api.tokens.capacity = non_negative_int(data, "cache_size") or 1
        return {"left_window_reason": options.left_window_reason,
                "out_of_range_removals": options.out_of_range_removals,
                "duplicate_items": options.duplicate_items, "cache_size": emu.api.tokens.capacity}

    def faults(request: Request, data: dict[str, Any]) -> Any:
        if request.method == "DELETE":
            emu.api.faults.pending.clear()
            return {"ok": True}
        status = data.get("status")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ControlError("status must be an HTTP error status (400-599)")
        methods = data.get("methods") or []
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            raise ControlError("methods must be a list such as [\"PATCH\", \"DELETE\"]")
        try:
            path = re.compile(data["path"]) if data.get("path") else None
        except re.error as exc:
            raise ControlError(f"path is not a valid regular expression: {exc}") from None
        code = data.get("code")
        if code is not None and not isinstance(code, str):
            raise ControlError("code must be a Graph error code such as ErrorInternalServerError")
        emu.api.faults.pending.append(Fault(status, non_negative_int(data, "count", 1) or 1,
                                            {m.upper() for m in methods}, path, code,
                                            non_negative_int(data, "retry_after")))
        return {"pending": len(emu.api.faults.pending)}

    def throttle(request: Request, data: dict[str, Any]) -> Any:
        limits = emu.api.limits
        limits.per_window = non_negative_int(data, "requests_per_ten_minutes", limits.per_window) or 0
        limits.concurrent = non_negative_int(data, "concurrent", limits.concurrent) or 0
        limits.retry_after = non_negative_int(data, "retry_after", limits.retry_after)
        emu.config.latency_ms = non_negative_int(data, "latency_ms", emu.config.latency_ms) or 0
        if data.get("reset", True):
            limits.reset()
        return {"requests_per_ten_minutes": limits.per_window, "concurrent": limits.concurrent,
                "retry_after": limits.retry_after, "latency_ms": emu.config.latency_ms}

    def clock(request: Request, data: dict[str, Any]) -> Any:
        seconds = data.get("advance_seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ControlError("advance_seconds must be a non-negative number")
        emu.store.clock.advance(seconds)
        return {"now": emu.store.clock.now().isoformat()}

    def oauth(request: Request, data: dict[str, Any]) -> Any:
        if "retire_old_refresh_tokens" in data:
            emu.config.retire_old_refresh_tokens = bool(data["retire_old_refresh_tokens"])
        return {"retire_old_refresh_tokens": emu.config.retire_old_refresh_tokens}

    def grants(request: Request, data: dict[str, Any]) -> Any:
        return {"grants": [{"user": g.user, "scopes": g.scopes, "offline": g.offline, "pkce": g.pkce,
                            "revoked": g.revoked_code is not None} for g in emu.auth.grants.values()]}

    def calendars(request: Request, data: dict[str, Any]) -> Any:
        user = user_of(data, emu.store.users)
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ControlError("name (the calendar's name) is required")
        cal = emu.store.add_calendar(user, name, can_edit=bool(data.get("can_edit", True)))
        return {"id": cal.id, "name": cal.name, "can_edit": cal.can_edit}

    def move(request: Request, data: dict[str, Any]) -> Any:
        """A user drags an event to another calendar in Outlook: its default id changes."""
        user = user_of(data, emu.store.users)
        try:
            inst = instances.resolve(emu.store, user, str(data.get("event_id")), emu.config.expansion_horizon_days)
            target = emu.store.calendar(user, str(data.get("calendar_id")))
        except GraphError as exc:
            raise ControlError(f"event_id and calendar_id must name an event and a calendar of {user}: "
                               f"{exc.message}") from None
        if inst.kind not in ("singleInstance", "seriesMaster"):
            raise ControlError("move a single event or a whole series, not one occurrence")
        record = inst.record
        moved = [record, *emu.store.exceptions_of(user, record)]
        for item in moved:
            emu.store.remove(user, item)
        for item in moved:
            item.calendar, item.generation = target, item.generation + 1
            emu.store.commit(user, item, "created")
        fresh = instances.of_record(record)
        return {"id": fresh.id(user, False), "immutable_id": fresh.id(user, True)}

    def notifications(request: Request, data: dict[str, Any]) -> Any:
        if request.method == "GET":
            return {"notifications": emu.hub.snapshot()}
        f = emu.hub.faults
        f.drop_next = non_negative_int(data, "drop_next", f.drop_next) or 0
        if "hold" in data:
            f.hold = bool(data["hold"])
        if "retry_seconds" in data:
            seconds = data["retry_seconds"]
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise ControlError("retry_seconds must be a non-negative number")
            emu.hub.retry_seconds = float(seconds)
        return {"drop_next": f.drop_next, "hold": f.hold, "retry_seconds": emu.hub.retry_seconds}

    def release(request: Request, data: dict[str, Any]) -> Any:
        return {"released": emu.hub.release()}

    def retry(request: Request, data: dict[str, Any]) -> Any:
        return {"retried": emu.hub.retry_now()}

    async def settle(request: Request) -> Response:
        done = emu.hub.wait_idle(timeout=10.0)
        return JSONResponse({"idle": done}, status_code=200 if done else 504)

    def lifecycle(request: Request, data: dict[str, Any]) -> Any:
        sub = emu.hub.subs.get(str(data.get("subscription_id")))
        if sub is None:
            raise ControlError("subscription_id must name a live subscription")
        event = data.get("event")
        if event not in LIFECYCLE_EVENTS:
            raise ControlError(f"event must be one of {', '.join(LIFECYCLE_EVENTS)}")
        try:
            emu.hub.lifecycle(sub, event)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        return {"ok": True}

    def subscriptions(request: Request, data: dict[str, Any]) -> Any:
        if request.method == "POST":
            minutes = non_negative_int(data, "max_minutes", emu.config.subscription_max_minutes) or 0
            if minutes < emu.config.subscription_min_minutes:
                raise ControlError(f"max_minutes must be at least {emu.config.subscription_min_minutes}")
            emu.config.subscription_max_minutes = minutes
            return {"max_minutes": minutes}
        return {"subscriptions": [{**emu.hub.render(s), "user": s.user, "paused": s.paused}
                                  for s in emu.hub.subs.values()]}

    def mail(request: Request, data: dict[str, Any]) -> Any:
        return {"mail": list(emu.store.mail)}

    return [
        Route("/requests", control(requests_), methods=["GET"]),
        Route("/token", control(token), methods=["POST"]),
        Route("/revoke", control(revoke), methods=["POST"]),
        Route("/expire-access-tokens", control(expire_access_tokens), methods=["POST"]),
        Route("/expire-sync-tokens", control(expire_sync_tokens), methods=["POST"]),
        Route("/delta", control(delta_options), methods=["POST"]),
        Route("/faults", control(faults), methods=["POST", "DELETE"]),
        Route("/throttle", control(throttle), methods=["POST"]),
        Route("/clock", control(clock), methods=["POST"]),
        Route("/oauth", control(oauth), methods=["POST"]),
        Route("/grants", control(grants), methods=["GET"]),
        Route("/calendars", control(calendars), methods=["POST"]),
        Route("/move-event", control(move), methods=["POST"]),
        Route("/notifications", control(notifications), methods=["GET", "POST"]),
        Route("/notifications/release", control(release), methods=["POST"]),
        Route("/notifications/retry", control(retry), methods=["POST"]),
        Route("/notifications/settle", settle, methods=["POST"]),
        Route("/lifecycle", control(lifecycle), methods=["POST"]),
        Route("/subscriptions", control(subscriptions), methods=["GET", "POST"]),
        Route("/mail", control(mail), methods=["GET"]),
    ]
