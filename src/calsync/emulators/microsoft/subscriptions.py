"""Change notifications: subscriptions (validation handshake, clientState, expiry, renewal,
reauthorize, deletion), notifications POSTed to `notificationUrl`, and lifecycle notifications.

Delivery runs on one worker thread so API calls never wait for a receiver; notifications queued
for the same address go out together in one `value` array. A delivery that fails (non-2xx, or no
answer within the 3 s limit) is retried every `notification_retry_seconds` until 4 hours (on the
emulator clock) have passed since the change. Tests can drop, hold and release notifications.
"""

from __future__ import annotations

import ipaddress
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from calsync.emulators.common.clock import Clock
from calsync.emulators.microsoft import ids
from calsync.emulators.microsoft.config import EmulatorConfig
from calsync.emulators.microsoft.errors import GraphError, bad_request
from calsync.emulators.microsoft.oauth import user_object_id
from calsync.emulators.microsoft.prefer import Prefer
from calsync.emulators.microsoft.store import Record, Store
from calsync.emulators.microsoft.times import format_offset, parse_offset_instant
from calsync.emulators.microsoft.wire import Reply

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
_RESOURCE = re.compile(r"^/?(?:me|users/[^/]+)(?:/calendars/([^/]+))?/events$", re.I)
RETRY_SECONDS = 30.0


@dataclass
class Subscription:
    id: str
    user: str
    resource: str
    calendar_key: bytes | None          # None: every calendar of the mailbox
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    immutable_ids: bool
    paused: bool = False                # after reauthorizationRequired, until reauthorized or renewed


@dataclass
class Delivery:
    kind: str                           # change | lifecycle | validation
    url: str
    value: list[dict[str, Any]]
    first_at: datetime
    outcome: str = "queued"             # queued, held, dropped, delivered, failed, retrying, expired, paused
    status: int | None = None
    error: str | None = None
    attempts: int = 0
    due: float = 0.0                    # monotonic time of the next retry


@dataclass
class Faults:
    drop_next: int = 0
    hold: bool = False


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: Any, field_name: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or not parts.hostname or parts.scheme not in ("https", "http") or \
            (parts.scheme == "http" and not _loopback(parts.hostname)):
        raise bad_request(f"Subscription {field_name} must be an https URL (http only on loopback in the emulator): "
                          f"{value!r}.", "InvalidRequest")
    return str(value)


class Hub:
    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.subs: dict[str, Subscription] = {}
        self.log: list[Delivery] = []
        self.held: list[Delivery] = []
        self.retrying: list[Delivery] = []
        self.faults = Faults()
        self.retry_seconds = RETRY_SECONDS
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._worker = threading.Thread(target=self._run, name="graph-emulator-notify", daemon=True)
        self._worker.start()

    # the API ---------------------------------------------------------------------------------------
    def _expiry(self, value: Any) -> datetime:
        wanted = parse_offset_instant(value, "expirationDateTime")
        now = self.clock.now()
        if wanted <= now:
            raise bad_request("Subscription expiration must be in the future.", "InvalidRequest")
        if wanted > now + timedelta(minutes=self.config.subscription_max_minutes, seconds=59):
            raise bad_request(f"Subscription expiration can only be {self.config.subscription_max_minutes} minutes "
                              f"in the future.", "InvalidRequest")
        return max(wanted, now + timedelta(minutes=self.config.subscription_min_minutes))

    def prepare(self, user: str, body: dict[str, Any], prefer: Prefer, store: Store, base: str) -> Subscription:
        """Checks a subscription request; it exists only once `finish` has validated its URLs."""
        known = {"changeType", "notificationUrl", "lifecycleNotificationUrl", "resource", "expirationDateTime",
                 "clientState", "latestSupportedTlsVersion", "includeResourceData", "@odata.type"}
        for key in body:
            if key not in known:
                raise bad_request(f"The property '{key}' does not exist on type 'microsoft.graph.subscription'.",
                                  "RequestBodyRead")
        changes = str(body.get("changeType") or "").split(",")
        if not changes or any(c.strip() not in CHANGE_TYPES for c in changes):
            raise bad_request("changeType must be a comma-separated list of created, updated, deleted.",
                              "InvalidRequest")
        resource = body.get("resource")
        match = _RESOURCE.match(resource) if isinstance(resource, str) else None
        if match is None:
            raise bad_request(f"The emulator takes subscriptions to me/events or me/calendars/{{id}}/events; "
                              f"got {resource!r}.", "InvalidRequest")
        cal_key = store.calendar(user, match.group(1)).key if match.group(1) else None
        state = body.get("clientState")
        if state is not None and (not isinstance(state, str) or len(state) > 128):
            raise bad_request("clientState must be a string of at most 128 characters.", "InvalidRequest")
        if body.get("includeResourceData"):
            raise bad_request("includeResourceData (rich notifications) is not served by the emulator.",
                              "InvalidRequest")
        lifecycle = body.get("lifecycleNotificationUrl")
        return Subscription(str(uuid.uuid4()), user, str(resource), cal_key, [c.strip() for c in changes],
                            _check_url(body.get("notificationUrl"), "notificationUrl"),
                            _check_url(lifecycle, "lifecycleNotificationUrl") if lifecycle is not None else None,
                            state, self._expiry(body.get("expirationDateTime")), prefer.immutable_ids)

    async def finish(self, sub: Subscription, lock: threading.RLock) -> Reply:
        """The validation handshake on each URL, then the subscription exists (201)."""
        urls = [sub.notification_url] + ([sub.lifecycle_url] if sub.lifecycle_url else [])
        async with httpx.AsyncClient(timeout=self.config.validation_timeout_seconds) as client:
            for url in urls:
                problem = await self._validate(client, url)
                if problem is not None:
                    error = GraphError(400, "InvalidRequest", f"Subscription validation request failed. {problem}")
                    return Reply(400, error.body())
        with lock:
            self.subs[sub.id] = sub
        return Reply(201, self.render(sub))

    async def _validate(self, client: httpx.AsyncClient, url: str) -> str | None:
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        target = url + ("&" if "?" in url else "?") + urlencode({"validationToken": token})
        entry = Delivery("validation", url, [], self.clock.now(), attempts=1)
        self.log.append(entry)
        try:
            reply = await client.post(target, headers={"Content-Type": "text/plain; charset=utf-8"}, content=b"")
        except httpx.TimeoutException:
            entry.outcome, entry.error = "failed", "timeout"
            return (f"Notification endpoint must respond with 200 OK to validation request within "
                    f"{self.config.validation_timeout_seconds:g} seconds.")
        except httpx.HTTPError as exc:
            entry.outcome, entry.error = "failed", f"{type(exc).__name__}: {exc}"
            return "Notification endpoint must respond with 200 OK to validation request."
        entry.status = reply.status_code
        if reply.status_code != 200:
            entry.outcome = "failed"
            return "Notification endpoint must respond with 200 OK to validation request."
        if not reply.headers.get("content-type", "").lower().startswith("text/plain"):
            entry.outcome = "failed"
            return "Response must be Content-Type text/plain."
        if reply.text != token:
            entry.outcome = "failed"
            return "Response must exactly match validationToken query parameter."
        entry.outcome = "delivered"
        return None

    def _live(self, sub: Subscription) -> bool:
        return sub.expiration > self.clock.now()

    def of_user(self, user: str) -> list[Subscription]:
        return [s for s in self.subs.values() if s.user == user and self._live(s)]

    def get(self, user: str, sub_id: str) -> Subscription:
        sub = self.subs.get(sub_id)
        if sub is None or sub.user != user or not self._live(sub):
            raise GraphError(404, "ResourceNotFound", f"The object was not found: subscription {sub_id}.")
        return sub

    def renew(self, sub: Subscription, body: dict[str, Any]) -> Subscription:
        extra = set(body) - {"expirationDateTime", "@odata.type"}
        if extra or "expirationDateTime" not in body:
            raise bad_request("Only expirationDateTime can be changed on a subscription (send just it).",
                              "InvalidRequest")
        sub.expiration = self._expiry(body["expirationDateTime"])
        sub.paused = False
        return sub

    def reauthorize(self, sub: Subscription) -> None:
        sub.paused = False

    def delete(self, sub: Subscription) -> None:
        self.subs.pop(sub.id, None)

    def render(self, sub: Subscription) -> dict[str, Any]:
        return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
                "id": sub.id, "resource": sub.resource, "applicationId": self.config.client_id,
                "changeType": ",".join(sub.change_types), "clientState": sub.client_state,
                "notificationUrl": sub.notification_url, "notificationQueryOptions": None,
                "lifecycleNotificationUrl": sub.lifecycle_url, "expirationDateTime": format_offset(sub.expiration),
                "creatorId": user_object_id(sub.user), "includeResourceData": False,
                "latestSupportedTlsVersion": "v1_2", "encryptionCertificate": None,
                "encryptionCertificateId": None, "notificationUrlAppId": None}

    # notifications --------------------------------------------------------------------------------
    def changed(self, user: str, record: Record, change: str) -> None:
        """Called by the store after each committed change (under the store lock)."""
        for sub in list(self.subs.values()):
            if sub.user != user or not self._live(sub) or change not in sub.change_types:
                continue
            if sub.calendar_key is not None and record.calendar.key != sub.calendar_key:
                continue
            owner_key = record.master_key or record.key
            event_id = ids.encode(user, owner_key, record.generation, sub.immutable_ids, record.original_start)
            resource = f"Users/{user_object_id(user)}/Events/{event_id}"
            item: dict[str, Any] = {
                "subscriptionId": sub.id, "subscriptionExpirationDateTime": format_offset(sub.expiration),
                "changeType": change, "resource": resource, "tenantId": self.config.tenant_id,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                                 "@odata.etag": f'W/"{record.change_key}"', "id": event_id}}
            if sub.client_state is not None:
                item["clientState"] = sub.client_state
            delivery = Delivery("change", sub.notification_url, [item], self.clock.now())
            if sub.paused:
                delivery.outcome = "paused"
                self.log.append(delivery)
                continue
            self._send(delivery)

    def lifecycle(self, sub: Subscription, event: str) -> None:
        if sub.lifecycle_url is None:
            raise ValueError("this subscription has no lifecycleNotificationUrl")
        item: dict[str, Any] = {"subscriptionId": sub.id, "subscriptionExpirationDateTime": format_offset(sub.expiration),
                                "tenantId": self.config.tenant_id, "lifecycleEvent": event, "resource": sub.resource}
        if sub.client_state is not None:
            item["clientState"] = sub.client_state
        if event == "reauthorizationRequired":
            sub.paused = True
        if event == "subscriptionRemoved":
            self.delete(sub)
        self._send(Delivery("lifecycle", sub.lifecycle_url, [item], self.clock.now()))

    def _send(self, delivery: Delivery) -> None:
        self.log.append(delivery)
        if self.faults.drop_next > 0:
            self.faults.drop_next -= 1
            delivery.outcome = "dropped"
        elif self.faults.hold:
            delivery.outcome = "held"
            self.held.append(delivery)
        else:
            self._enqueue(delivery)

    def _enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self._pending += 1
        delivery.outcome = "queued"
        self._queue.put(delivery)

    def release(self) -> int:
        held, self.held = self.held, []
        self.faults.hold = False
        for delivery in held:
            self._enqueue(delivery)
        return len(held)

    def retry_now(self) -> int:
        """Retries every failed delivery now (still within 4 hours of its change)."""
        with self._lock:
            due, self.retrying = self.retrying, []
        for delivery in due:
            self._retry(delivery)
        return len(due)

    def _retry(self, delivery: Delivery) -> None:
        if self.clock.now() - delivery.first_at > timedelta(hours=self.config.notification_retry_hours):
            delivery.outcome = "expired"
            return
        self._enqueue(delivery)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _post(self, client: httpx.Client, batch: list[Delivery]) -> None:
        value = [item for d in batch for item in d.value]
        try:
            reply = client.post(batch[0].url, json={"value": value})
            ok, status, error = 200 <= reply.status_code < 300, reply.status_code, None
        except httpx.HTTPError as exc:
            ok, status, error = False, None, f"{type(exc).__name__}: {exc}"
        for d in batch:
            d.attempts += 1
            d.status, d.error = status, error
            if ok:
                d.outcome = "delivered"
            else:
                d.outcome, d.due = "retrying", time.monotonic() + self.retry_seconds
                with self._lock:
                    self.retrying.append(d)

    def _run(self) -> None:
        with httpx.Client(timeout=self.config.notification_timeout_seconds) as client:
            while True:
                try:
                    first = self._queue.get(timeout=1.0)
                except queue.Empty:
                    self._retry_due()
                    continue
                if first is None:
                    return
                batch = [first]
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._queue.put(None)
                        break
                    batch.append(more)
                groups: dict[tuple[str, str], list[Delivery]] = {}
                for d in batch:
                    groups.setdefault((d.kind, d.url), []).append(d)
                for group in groups.values():
                    self._post(client, group)
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()
                self._retry_due()

    def _retry_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [d for d in self.retrying if d.due <= now]
            self.retrying = [d for d in self.retrying if d.due > now]
        for d in due:
            self._retry(d)

    def close(self) -> None:
        self._queue.put(None)

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"kind": d.kind, "url": d.url, "value": d.value, "outcome": d.outcome, "status": d.status,
                 "error": d.error, "attempts": d.attempts} for d in self.log]
