"""Test controls under `/_emulator/`: read the request log, act as a user, inject failures.

None of these exist at Google; they let tests set up what a person would do in Google Calendar
or what Google's infrastructure does to a client (expired tokens, dropped notifications, 429s).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calsync.emulators.common.controls import ControlError, Handler, non_negative_int, user_of, wrap
from calsync.emulators.google.oauth import ALL_CALENDAR
from calsync.emulators.google.quota import Fault

if TYPE_CHECKING:
    from calsync.emulators.google.app import Emulator


def _user(emu: "Emulator", data: dict[str, Any]) -> str:
    return user_of(data, emu.store.users)


_int = non_negative_int


def routes(emu: "Emulator") -> list[Route]:
    def control(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return wrap(emu.store.lock, handler)

    def requests_(request: Request, data: dict[str, Any]) -> Any:
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            raise ControlError("since must be a request sequence number")
        return {"requests": emu.log.since(int(since))}

    def token(request: Request, data: dict[str, Any]) -> Any:
        user = _user(emu, data)
        scopes = data.get("scopes") or ALL_CALENDAR
        access, seconds = emu.auth.issue_access(user, list(scopes), None)
        return {"access_token": access, "expires_in": seconds, "token_type": "Bearer"}

    def revoke(request: Request, data: dict[str, Any]) -> Any:
        return {"revoked_grants": emu.auth.revoke_user(_user(emu, data))}

    def expire_sync_tokens(request: Request, data: dict[str, Any]) -> Any:
        emu.store.expire_sync_tokens()
        return {"ok": True}

    def sync_tokens(request: Request, data: dict[str, Any]) -> Any:
        emu.store.sync_token_ttl_seconds = _int(data, "ttl_seconds")
        return {"ttl_seconds": emu.store.sync_token_ttl_seconds}

    def expire_access_tokens(request: Request, data: dict[str, Any]) -> Any:
        emu.auth.expire_access_tokens()
        return {"ok": True}

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
        emu.api.faults.add(Fault(status, _int(data, "count", 1) or 1, {m.upper() for m in methods}, path,
                                 data.get("reason"), _int(data, "retry_after")))
        return {"pending": len(emu.api.faults.pending)}

    def pages(request: Request, data: dict[str, Any]) -> Any:
        sizes = data.get("sizes")
        if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes):
            raise ControlError("sizes must be a list of page sizes (0 = an empty page)")
        emu.api.pager.sizes.clear()
        emu.api.pager.sizes.extend(sizes)
        return {"sizes": sizes}

    def quota(request: Request, data: dict[str, Any]) -> Any:
        q = emu.api.quota
        q.per_user = _int(data, "per_user_per_minute", q.per_user) or 0
        q.per_project = _int(data, "per_project_per_minute", q.per_project) or 0
        status = data.get("status", q.status)
        if status not in (403, 429):
            raise ControlError("status must be 403 or 429")
        q.status = status
        q.retry_after = _int(data, "retry_after", q.retry_after)
        if data.get("reset", True):
            q.reset()
        return {"per_user_per_minute": q.per_user, "per_project_per_minute": q.per_project, "status": q.status}

    def notifications(request: Request, data: dict[str, Any]) -> Any:
        if request.method == "GET":
            return {"notifications": emu.hub.snapshot()}
        f = emu.hub.faults
        f.drop_next = _int(data, "drop_next", f.drop_next) or 0
        f.deliver_after_stop = _int(data, "deliver_after_stop", f.deliver_after_stop) or 0
        if "hold" in data:
            f.hold = bool(data["hold"])
        if "drop_rate" in data:
            rate = data["drop_rate"]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
                raise ControlError("drop_rate must be a number from 0 to 1")
            f.drop_rate = float(rate)
        if "seed" in data:
            emu.hub.random.seed(_int(data, "seed"))
        return {"drop_next": f.drop_next, "drop_rate": f.drop_rate, "hold": f.hold,
                "deliver_after_stop": f.deliver_after_stop}

    def release(request: Request, data: dict[str, Any]) -> Any:
        return {"released": emu.hub.release()}

    async def settle(request: Request) -> Response:
        done = emu.hub.wait_idle(timeout=10.0)
        return JSONResponse({"idle": done}, status_code=200 if done else 504)

    def clock(request: Request, data: dict[str, Any]) -> Any:
        seconds = data.get("advance_seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ControlError("advance_seconds must be a non-negative number")
        emu.store.clock.advance(seconds)
        return {"now": emu.store.clock.now().isoformat()}

    def oauth(request: Request, data: dict[str, Any]) -> Any:
        if "rotate_refresh_tokens" in data:
            emu.config.rotate_refresh_tokens = bool(data["rotate_refresh_tokens"])
        return {"rotate_refresh_tokens": emu.config.rotate_refresh_tokens}

    def grants(request: Request, data: dict[str, Any]) -> Any:
        return {"grants": [{"user": g.user, "scopes": g.scopes, "offline": g.offline, "pkce": g.pkce,
                            "revoked": g.revoked} for g in emu.auth.grants.values()]}

    def calendars(request: Request, data: dict[str, Any]) -> Any:
        user = _user(emu, data)
        role = data.get("access_role", "owner")
        if role not in ("owner", "writer", "reader", "freeBusyReader"):
            raise ControlError("access_role must be owner, writer, reader or freeBusyReader")
        summary = data.get("summary")
        if not isinstance(summary, str) or not summary:
            raise ControlError("summary (the calendar's name) is required")
        cal = emu.store.add_calendar(user, summary, role)
        return {"id": cal.id, "summary": cal.summary, "access_role": cal.access_role}

    return [
        Route("/requests", control(requests_), methods=["GET"]),
        Route("/token", control(token), methods=["POST"]),
        Route("/revoke", control(revoke), methods=["POST"]),
        Route("/expire-sync-tokens", control(expire_sync_tokens), methods=["POST"]),
        Route("/sync-tokens", control(sync_tokens), methods=["POST"]),
        Route("/expire-access-tokens", control(expire_access_tokens), methods=["POST"]),
        Route("/faults", control(faults), methods=["POST", "DELETE"]),
        Route("/pages", control(pages), methods=["POST"]),
        Route("/quota", control(quota), methods=["POST"]),
        Route("/notifications", control(notifications), methods=["GET", "POST"]),
        Route("/notifications/release", control(release), methods=["POST"]),
        Route("/notifications/settle", settle, methods=["POST"]),
        Route("/clock", control(clock), methods=["POST"]),
        Route("/oauth", control(oauth), methods=["POST"]),
        Route("/grants", control(grants), methods=["GET"]),
        Route("/calendars", control(calendars), methods=["POST"]),
    ]
