"""events.watch channels and the notifications they POST (empty body, X-Goog-* headers).

Delivery runs on one worker thread so API calls never wait for a receiver. Tests can drop the
next N notifications, hold notifications back and release them later (late delivery), and let a
stopped channel still deliver its next N messages (as Google may, briefly, after channels.stop).
"""

from __future__ import annotations

import ipaddress
import queue
import random
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from calsync.emulators.google.clock import Clock
from calsync.emulators.google.errors import ApiError, bad_request


@dataclass
class Channel:
    id: str
    resource_id: str
    calendar_id: str
    user: str
    address: str
    token: str | None
    expiration: datetime
    resource_uri: str
    number: int = 0
    stopped: bool = False
    late_after_stop: int = 0


@dataclass
class Delivery:
    channel_id: str
    state: str
    number: int
    headers: dict[str, str]
    address: str
    outcome: str = "queued"   # queued, held, dropped, delivered, failed
    status: int | None = None
    error: str | None = None


@dataclass
class Faults:
    drop_next: int = 0
    drop_rate: float = 0.0   # share of notifications lost at random ("not 100% reliable")
    hold: bool = False
    deliver_after_stop: int = 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WatchHub:
    def __init__(self, clock: Clock, default_ttl: int) -> None:
        self.clock, self.default_ttl = clock, default_ttl
        self.channels: dict[str, Channel] = {}
        self.log: list[Delivery] = []
        self.held: list[Delivery] = []
        self.faults = Faults()
        self.random = random.Random(0)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._worker = threading.Thread(target=self._run, name="google-emulator-notify", daemon=True)
        self._worker.start()

    # API ---------------------------------------------------------------------------------------
    def watch(self, user: str, calendar_id: str, body: Any, base_url: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("Parse Error: the channel must be a JSON object.", reason="parseError")
        chan_id, kind, address = body.get("id"), body.get("type"), body.get("address")
        if not isinstance(chan_id, str) or not chan_id or len(chan_id) > 64:
            raise bad_request("Channel id is required and at most 64 characters long.", reason="required",
                              location="id", location_type="other")
        if chan_id in self.channels:
            raise bad_request(f"Channel id {chan_id} not unique", reason="channelIdNotUnique")
        if kind not in ("web_hook", "webhook"):
            raise bad_request(f"Invalid channel type {kind!r}: use web_hook.", reason="invalid", location="type")
        parts = urlsplit(address) if isinstance(address, str) else None
        if parts is None or not parts.hostname or parts.scheme not in ("https", "http") or \
                (parts.scheme == "http" and not _loopback(parts.hostname)):
            raise bad_request(f"WebHook callback must be HTTPS: {address}", reason="push.webhookUrlNotHttps",
                              location="address")
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise bad_request("Channel token must be a string of at most 256 characters.", location="token")
        now = self.clock.now()
        expiry = now + timedelta(seconds=self.default_ttl)
        params = body.get("params") or {}
        if isinstance(params, dict) and str(params.get("ttl", "")).isdigit():
            expiry = min(expiry, now + timedelta(seconds=int(params["ttl"])))
        if body.get("expiration") is not None:
            try:
                wanted = datetime.fromtimestamp(int(body["expiration"]) / 1000, timezone.utc)
            except (TypeError, ValueError):
                raise bad_request("Invalid channel expiration.", location="expiration") from None
            expiry = min(expiry, wanted)
        channel = Channel(chan_id, secrets.token_urlsafe(20), calendar_id, user, address, token, expiry,
                          f"{base_url}/calendar/v3/calendars/{calendar_id}/events?alt=json")
        self.channels[chan_id] = channel
        self._send(channel, "sync")
        out = {"kind": "api#channel", "id": chan_id, "resourceId": channel.resource_id,
               "resourceUri": channel.resource_uri, "expiration": str(int(expiry.timestamp() * 1000))}
        if token is not None:
            out["token"] = token
        return out

    def stop(self, user: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request("Parse Error: expected {id, resourceId}.", reason="parseError")
        channel = self.channels.get(str(body.get("id")))
        if channel is None or channel.stopped or channel.resource_id != body.get("resourceId") or channel.user != user:
            raise ApiError(404, "notFound", f"Channel '{body.get('id')}' not found for project")
        channel.stopped = True
        channel.late_after_stop = self.faults.deliver_after_stop

    def changed(self, calendar_id: str, state: str) -> None:
        """Called by the store after each committed change (under the store lock)."""
        now = self.clock.now()
        for channel in list(self.channels.values()):
            if channel.calendar_id != calendar_id or channel.expiration <= now:
                continue
            if channel.stopped:
                if channel.late_after_stop <= 0:
                    continue
                channel.late_after_stop -= 1
            self._send(channel, state)

    # delivery ----------------------------------------------------------------------------------
    def _send(self, channel: Channel, state: str) -> None:
        channel.number += 1
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
            "X-Goog-Message-Number": str(channel.number),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-URI": channel.resource_uri,
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        delivery = Delivery(channel.id, state, channel.number, headers, channel.address)
        self.log.append(delivery)
        if self.faults.drop_next > 0:
            self.faults.drop_next -= 1
            delivery.outcome = "dropped"
        elif self.faults.drop_rate and self.random.random() < self.faults.drop_rate:
            delivery.outcome = "dropped"
        elif self.faults.hold:
            delivery.outcome = "held"
            self.held.append(delivery)
        else:
            self._enqueue(delivery)

    def _enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put(delivery)

    def release(self) -> int:
        """Late delivery: sends what was held, in order, and stops holding."""
        held, self.held = self.held, []
        self.faults.hold = False
        for delivery in held:
            delivery.outcome = "queued"
            self._enqueue(delivery)
        return len(held)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                delivery = self._queue.get()
                if delivery is None:
                    return
                try:
                    reply = client.post(delivery.address, headers=delivery.headers, content=b"")
                    delivery.status, delivery.outcome = reply.status_code, "delivered"
                except httpx.HTTPError as exc:
                    delivery.outcome, delivery.error = "failed", f"{type(exc).__name__}: {exc}"
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def close(self) -> None:
        self._queue.put(None)

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"channel_id": d.channel_id, "state": d.state, "number": d.number, "address": d.address,
                 "outcome": d.outcome, "status": d.status, "error": d.error, "headers": d.headers}
                for d in self.log]


