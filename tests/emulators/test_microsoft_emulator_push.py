"""The Microsoft Graph emulator over real HTTP: subscriptions, the validation handshake, change
and lifecycle notifications POSTed to a real receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from calsync.emulators.microsoft.oauth import user_object_id
from tests.emulators.microsoft_helpers import code, conforms, create
from tests.support.live import serve
from tests.support.microsoft_emulator import USERS, MicrosoftEmulator, microsoft_emulator

A, B = USERS


class Receiver:
    """A webhook endpoint: answers the validation handshake (as `mode` says) and keeps notifications."""

    def __init__(self) -> None:
        self.mode = "echo"            # echo | wrong | refuse | html
        self.notify_status = 202
        self.validations: list[dict[str, Any]] = []
        self.posts: list[dict[str, Any]] = []

        async def hook(request: Request) -> Response:
            token = request.query_params.get("validationToken")
            if token is not None:
                self.validations.append({"token": token, "type": request.headers.get("content-type"),
                                         "path": request.url.path, "body": await request.body()})
                if self.mode == "wrong":
                    return PlainTextResponse(token + "x")
                if self.mode == "refuse":
                    return Response(status_code=500)
                if self.mode == "html":
                    return Response(token, media_type="text/html")
                return PlainTextResponse(token)
            self.posts.append({"path": request.url.path, "query": dict(request.query_params),
                               "body": json.loads(await request.body())})
            return Response(status_code=self.notify_status)

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/life", hook, methods=["POST"])])

    def values(self, path: str = "/hook") -> list[dict[str, Any]]:
        return [v for p in self.posts if p["path"] == path for v in p["body"]["value"]]


@pytest.fixture
def emu() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator(hooks=[conforms]) as emulator:
        yield emulator


@pytest.fixture
def api(emu: MicrosoftEmulator) -> httpx.Client:
    return emu.client(A)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with serve(rec.app) as base:  # type: ignore[arg-type]
        yield rec, base


def in_minutes(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def subscribe(api: httpx.Client, base: str, **extra: Any) -> httpx.Response:
    body = {"changeType": "created,updated,deleted", "notificationUrl": base + "/hook?account=7",
            "resource": "me/events", "expirationDateTime": in_minutes(4000), "clientState": "secret-42", **extra}
    return api.post("/subscriptions", json=body)


def test_a_subscription_exists_only_after_the_validation_handshake(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    for mode, fragment in (("wrong", "Response must exactly match validationToken query parameter."),
                           ("refuse", "must respond with 200 OK"), ("html", "text/plain")):
        rec.mode = mode
        refused = subscribe(api, base)
        assert refused.status_code == 400 and code(refused) == "InvalidRequest", mode
        assert refused.json()["error"]["message"].startswith("Subscription validation request failed.")
        assert fragment in refused.json()["error"]["message"]
    assert api.get("/subscriptions").json()["value"] == []
    rec.mode = "echo"
    made = subscribe(api, base, lifecycleNotificationUrl=base + "/life")
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["clientState"] == "secret-42" and sub["resource"] == "me/events"
    assert sub["changeType"] == "created,updated,deleted" and sub["applicationId"] == emu.config.client_id
    last = rec.validations[-2:]
    assert [v["path"] for v in last] == ["/hook", "/life"]
    assert all(v["type"].startswith("text/plain") and v["body"] == b"" for v in last)
    assert " " in last[0]["token"]    # the token arrives URL-decoded and must be echoed decoded
    assert [s["id"] for s in api.get("/subscriptions").json()["value"]] == [sub["id"]]
    assert api.get(f"/subscriptions/{sub['id']}").json()["notificationUrl"].endswith("/hook?account=7")
    assert emu.client(B).get(f"/subscriptions/{sub['id']}").status_code == 404


@pytest.mark.parametrize("extra, fragment", [
    ({"changeType": "created,moved"}, "changeType"),
    ({"resource": "me/messages"}, "me/events"),
    ({"clientState": "x" * 129}, "128"),
    ({"notificationUrl": "http://example.org/hook"}, "https"),
    ({"includeResourceData": True}, "includeResourceData"),
    ({"expirationDateTime": "tomorrow"}, "expirationDateTime"),
    ({"lifecycleUrl": "https://x"}, "does not exist"),
])
def test_bad_subscription_requests_answer_400(api: httpx.Client, receiver: tuple[Receiver, str],
                                              extra: dict[str, Any], fragment: str) -> None:
    reply = subscribe(api, receiver[1], **extra)
    assert reply.status_code == 400 and fragment in reply.json()["error"]["message"]


def test_notifications_carry_client_state_resource_and_etag_for_each_change(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    sub = subscribe(api, base).json()
    event = create(api, subject="watched")
    updated = api.patch(f"/me/events/{event['id']}", json={"subject": "changed"}).json()
    api.delete(f"/me/events/{event['id']}")
    create(emu.client(B), subject="someone else's")
    emu.settle()
    values = rec.values()
    assert [v["changeType"] for v in values] == ["created", "updated", "deleted"]
    resource = f"Users/{user_object_id(A)}/Events/{event['id']}"
    for value in values:
        assert value["subscriptionId"] == sub["id"] and value["clientState"] == "secret-42"
        assert value["tenantId"] == emu.config.tenant_id and value["resource"] == resource
        assert value["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
        assert value["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
        assert value["resourceData"]["id"] == event["id"] and value["resourceData"]["@odata.id"] == resource
    assert values[0]["resourceData"]["@odata.etag"] == event["@odata.etag"]
    assert values[1]["resourceData"]["@odata.etag"] == updated["@odata.etag"]
    assert all(p["query"] == {"account": "7"} for p in rec.posts)    # the notificationUrl's query is kept


def test_a_calendar_subscription_hears_only_that_calendar_and_change_types_asked_for(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    work = emu.add_calendar(A, "Work")
    subscribe(api, base, resource=f"me/calendars/{work}/events", changeType="deleted")
    create(api, subject="default calendar")
    there = create(api, f"/me/calendars/{work}/events", subject="work")
    api.delete(f"/me/events/{there['id']}")
    emu.settle()
    assert [(v["changeType"], v["resourceData"]["id"]) for v in rec.values()] == [("deleted", there["id"])]


def test_immutable_ids_in_notifications_when_subscribed_with_the_prefer_header(
        emu: MicrosoftEmulator, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    immutable = emu.client(A, headers={"Prefer": 'IdType="ImmutableId"'})
    subscribe(immutable, base)
    event = create(immutable)
    emu.settle()
    assert rec.values()[0]["resourceData"]["id"] == event["id"] and event["id"].startswith("AAkALg")


def test_subscription_expiry_is_raised_to_45_minutes_bounded_renewed_and_deleted(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    short = subscribe(api, base, expirationDateTime=in_minutes(10)).json()
    expiry = datetime.fromisoformat(short["expirationDateTime"].replace("Z", "+00:00"))
    assert timedelta(minutes=44) < expiry - datetime.now(timezone.utc) <= timedelta(minutes=45)
    too_long = subscribe(api, base, expirationDateTime=in_minutes(10_082))
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"] == "Subscription expiration can only be 10080 minutes in the future."
    emu.post("/subscriptions", {"max_minutes": 4230})    # the limit older Graph answers quote
    older = subscribe(api, base, expirationDateTime=in_minutes(4300))
    assert older.json()["error"]["message"] == "Subscription expiration can only be 4230 minutes in the future."
    renewed = api.patch(f"/subscriptions/{short['id']}", json={"expirationDateTime": in_minutes(4200)})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] > short["expirationDateTime"]
    assert api.patch(f"/subscriptions/{short['id']}", json={"clientState": "new"}).status_code == 400
    assert api.delete(f"/subscriptions/{short['id']}").status_code == 204
    assert api.get(f"/subscriptions/{short['id']}").status_code == 404
    lapsing = subscribe(api, base, expirationDateTime=in_minutes(60)).json()
    emu.post("/clock", {"advance_seconds": 3700})
    api = emu.client(A)   # the old access token expired with the hour too
    assert api.get(f"/subscriptions/{lapsing['id']}").status_code == 404    # not renewed: gone
    create(api)
    emu.settle()
    assert rec.values() == []


def test_lifecycle_notifications_pause_resume_and_remove_subscriptions(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    sub = subscribe(api, base, lifecycleNotificationUrl=base + "/life").json()
    emu.post("/lifecycle", {"subscription_id": sub["id"], "event": "reauthorizationRequired"})
    create(api, subject="while paused")
    emu.settle()
    assert [v["lifecycleEvent"] for v in rec.values("/life")] == ["reauthorizationRequired"]
    life = rec.values("/life")[0]
    assert life["subscriptionId"] == sub["id"] and life["clientState"] == "secret-42"
    assert rec.values() == []
    assert [n["outcome"] for n in emu.control.get("/notifications").json()["notifications"] if n["kind"] == "change"] \
        == ["paused"]
    assert api.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    create(api, subject="after reauthorize")
    emu.post("/lifecycle", {"subscription_id": sub["id"], "event": "missed"})
    emu.settle()
    assert len(rec.values()) == 1
    emu.post("/lifecycle", {"subscription_id": sub["id"], "event": "subscriptionRemoved"})
    emu.settle()
    assert [v["lifecycleEvent"] for v in rec.values("/life")] == ["reauthorizationRequired", "missed",
                                                                  "subscriptionRemoved"]
    assert api.get(f"/subscriptions/{sub['id']}").status_code == 404
    without = subscribe(api, base).json()
    refused = emu.control.post("/lifecycle", json={"subscription_id": without["id"], "event": "missed"})
    assert refused.status_code == 400 and "lifecycleNotificationUrl" in refused.json()["error"]


def test_failed_notifications_are_retried_for_up_to_four_hours(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    emu.post("/notifications", {"retry_seconds": 3600})   # no automatic retry while the test looks
    subscribe(api, base)
    rec.notify_status = 500
    create(api, subject="first")
    emu.settle()
    assert [n["outcome"] for n in emu.control.get("/notifications").json()["notifications"] if n["kind"] == "change"] \
        == ["retrying"]
    rec.notify_status = 202
    assert emu.post("/notifications/retry") == {"retried": 1}
    emu.settle()
    assert [v["changeType"] for v in rec.values()] == ["created", "created"]   # the failed try, then the retry
    rec.notify_status = 503
    create(api, subject="second")
    emu.settle()
    emu.post("/clock", {"advance_seconds": 4 * 3600 + 1})
    emu.post("/notifications/retry")
    emu.settle()
    outcomes = [n["outcome"] for n in emu.control.get("/notifications").json()["notifications"] if n["kind"] == "change"]
    assert outcomes == ["delivered", "expired"]


def test_notifications_can_be_dropped_held_and_released(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    subscribe(api, base)
    emu.post("/notifications", {"drop_next": 1})
    create(api, subject="lost")
    emu.post("/notifications", {"hold": True})
    create(api, subject="late")
    emu.settle()
    assert rec.values() == []
    assert emu.post("/notifications/release") == {"released": 1}
    emu.settle()
    assert [v["changeType"] for v in rec.values()] == ["created"]
    outcomes = [n["outcome"] for n in emu.control.get("/notifications").json()["notifications"] if n["kind"] == "change"]
    assert outcomes == ["dropped", "delivered"]


def test_notifications_for_one_address_go_out_together(
        emu: MicrosoftEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, base = receiver
    subscribe(api, base)
    emu.post("/notifications", {"hold": True})
    for i in range(3):
        create(api, subject=f"e{i}")
    emu.post("/notifications/release")
    emu.settle()
    assert len(rec.values()) == 3 and len(rec.posts) == 1
