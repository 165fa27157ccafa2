"""Change notifications for Microsoft Graph: subscriptions to a calendar's events, and checking
what arrives on them.

A subscription is created per account with a random secret `clientState` (≤ 128 characters);
Graph repeats it in every notification, change and lifecycle alike, and an item whose
subscription id or clientState do not match the stored subscription is ignored (compared in
constant time). Before the subscription exists Graph POSTs `?validationToken=…` to each URL and
wants it echoed as text/plain within 10 seconds (`validation_token`). A notification says only
*that* the calendar changed: the receiver requests a sync, the delta link does the rest.
Lifecycle notifications: `reauthorizationRequired` (reauthorize the subscription, or it stops
delivering), `subscriptionRemoved` (create a new one), `missed` (notifications were lost: sync).
Subscriptions to events expire within 4230 minutes and are renewed before (PATCH expiry)."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from calsync.sync.provider import ProviderError

# Graph allows 4230 minutes for Outlook resources; asking a little less leaves room for clock skew.
LIFETIME = dt.timedelta(minutes=4200)
LIFECYCLE = {"reauthorizationRequired": "reauthorize", "subscriptionRemoved": "recreate", "missed": "changed"}
# What a verdict asks for, strongest first (several items may arrive in one POST).
ORDER = ("recreate", "reauthorize", "changed")


class Sender(Protocol):
    def send(self, method: str, url: str, *, json: Any = None) -> httpx.Response: ...


def new_client_state() -> str:
    return secrets.token_urlsafe(48)  # 64 characters


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _ms(raw: str) -> int:
    moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def subscribe(http: Sender, calendar_id: str, address: str, client_state: str, now: dt.datetime) -> dict[str, Any]:
    """Creates the subscription (Graph validates `address` first); returns what to keep."""
    body = {"changeType": "created,updated,deleted", "notificationUrl": address, "lifecycleNotificationUrl": address,
            "resource": f"me/calendars/{calendar_id}/events", "expirationDateTime": _iso(now + LIFETIME),
            "clientState": client_state}
    response = http.send("POST", "/v1.0/subscriptions", json=body)
    if response.status_code != 201:
        raise ProviderError(f"Microsoft Graph refused the change-notification subscription (HTTP {response.status_code}): "
                            f"{_message(response)}")
    answer = response.json()
    return {"id": answer["id"], "client_state": client_state, "expiration": _ms(answer["expirationDateTime"]),
            "calendar_id": calendar_id}


def renew(http: Sender, channel: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Moves the subscription's expiry out again; 404 (it is gone) is a ProviderError: create anew."""
    response = http.send("PATCH", f"/v1.0/subscriptions/{channel['id']}", json={"expirationDateTime": _iso(now + LIFETIME)})
    if response.status_code != 200:
        raise ProviderError(f"Microsoft Graph refused to renew the subscription (HTTP {response.status_code}): "
                            f"{_message(response)}")
    return {**channel, "expiration": _ms(response.json()["expirationDateTime"])}


def reauthorize(http: Sender, channel: Mapping[str, Any]) -> None:
    response = http.send("POST", f"/v1.0/subscriptions/{channel['id']}/reauthorize", json={})
    if response.status_code not in (200, 204):
        raise ProviderError(f"Microsoft Graph refused to reauthorize the subscription (HTTP {response.status_code}): "
                            f"{_message(response)}")


def delete(http: Sender, channel: Mapping[str, Any]) -> None:
    """Deletes the subscription; one Graph no longer knows (404) counts as deleted."""
    response = http.send("DELETE", f"/v1.0/subscriptions/{channel['id']}")
    if response.status_code not in (200, 204, 404):
        raise ProviderError(f"Microsoft Graph refused to delete the subscription (HTTP {response.status_code}): "
                            f"{_message(response)}")


def validation_token(query: Mapping[str, str]) -> str | None:
    """The token of Graph's validation request, to be echoed as text/plain; None otherwise."""
    token = query.get("validationToken")
    return token if token else None


def verify(body: bytes, channel: Mapping[str, Any]) -> str | None:
    """What a notification POST asks for ("recreate", "reauthorize" or "changed"), or None when
    no item in it carries this subscription's id and secret clientState (forged or stale)."""
    try:
        items = json.loads(body or b"{}").get("value")
    except (ValueError, AttributeError):
        return None
    if not isinstance(items, list):
        return None
    wanted_id, wanted_state = str(channel.get("id") or ""), str(channel.get("client_state") or "")
    verdicts = set()
    for item in items:
        if not isinstance(item, dict) or not wanted_id or not wanted_state:
            continue
        same_id = hmac.compare_digest(str(item.get("subscriptionId") or ""), wanted_id)
        same_state = hmac.compare_digest(str(item.get("clientState") or ""), wanted_state)
        if not (same_id and same_state):
            continue
        event = item.get("lifecycleEvent")
        verdicts.add(LIFECYCLE.get(str(event), "changed") if event else "changed")
    return next((v for v in ORDER if v in verdicts), None)
