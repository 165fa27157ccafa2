"""Helpers for the `/_emulator/` test controls: JSON bodies, plain 400s, one wrapper per control.

Both emulators answer a bad control call with `{"error": "<what to fix>"}` and status 400.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ControlError(Exception):
    """A control call the emulator cannot follow; the message says what to fix."""


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ControlError("the body must be a JSON object")
    return data


def non_negative_int(data: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = data.get(name, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ControlError(f"{name} must be a non-negative integer")
    return value


def user_of(data: dict[str, Any], users: Any) -> str:
    user = data.get("user")
    if user not in users:
        raise ControlError(f"unknown user {user!r}; users: {', '.join(users)}")
    return str(user)


Handler = Callable[[Request, dict[str, Any]], Any]


def wrap(lock: threading.RLock, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """One control endpoint: JSON in, JSON out, under the store lock, 400 on a ControlError."""
    async def endpoint(request: Request) -> Response:
        try:
            data = await read_body(request) if request.method == "POST" else {}
            with lock:
                result = handler(request, data)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(result, Response):
            return result
        return JSONResponse(result if result is not None else {"ok": True})
    return endpoint
