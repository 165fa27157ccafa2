"""Push for Google Calendar: `events.watch` channels and checking what arrives on them.

A channel is opened per account with a random id and a random secret token; Google repeats both
(`X-Goog-Channel-ID`, `X-Goog-Channel-Token`) and the resource id on every notification, and a
notification whose three values do not all match a channel we hold is ignored. A notification
says only *that* the calendar changed (`sync` when the channel opens, `exists` on a change,
`not_exists` on a deletion): the receiver requests a sync, the sync token does the rest.
Channels expire (7 days by default) and are not renewed by Google: open a new one before."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from calsync.providers.google.http import GoogleHttp, message, path
from calsync.sync.provider import ProviderError

STATES = ("sync", "exists", "not_exists")


def new_token() -> str:
    """The per-channel secret (Google allows up to 256 characters)."""
    return secrets.token_urlsafe(32)


def watch(http: GoogleHttp, calendar_id: str, address: str, token: str, ttl_seconds: int | None = None) -> dict[str, Any]:
    """Opens a channel; returns what to keep: id, resource id, token, expiry (ms), calendar."""
    body: dict[str, Any] = {"id": uuid.uuid4().hex, "type": "web_hook", "address": address, "token": token}
    if ttl_seconds is not None:
        body["params"] = {"ttl": str(ttl_seconds)}
    response = http.send("POST", path("calendars", calendar_id, "events", "watch"), json=body)
    if response.status_code != 200:
        raise ProviderError(f"Google Calendar refused to open a push channel (HTTP {response.status_code}): "
                            f"{message(response)}")
    answer = response.json()
    return {"id": answer["id"], "resource_id": answer["resourceId"], "token": token,
            "expiration": int(answer.get("expiration") or 0), "calendar_id": calendar_id}


def unwatch(http: GoogleHttp, channel: Mapping[str, Any]) -> None:
    """Stops a channel; one Google no longer knows (404) counts as stopped."""
    response = http.send("POST", "/calendar/v3/channels/stop",
                         json={"id": channel["id"], "resourceId": channel["resource_id"]})
    if response.status_code not in (200, 204, 404):
        raise ProviderError(f"Google Calendar refused to stop the push channel (HTTP {response.status_code}): "
                            f"{message(response)}")


def verify(headers: Mapping[str, str], channel: Mapping[str, Any]) -> str | None:
    """The resource state of a genuine notification on `channel`, or None when the channel id,
    resource id or token do not match (a forged or stale notification)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    checks = [(lowered.get("x-goog-channel-id", ""), str(channel.get("id", ""))),
              (lowered.get("x-goog-resource-id", ""), str(channel.get("resource_id", ""))),
              (lowered.get("x-goog-channel-token", ""), str(channel.get("token", "")))]
    if not all(expected and hmac.compare_digest(got, expected) for got, expected in checks):
        return None
    state = lowered.get("x-goog-resource-state", "")
    return state if state in STATES else None
