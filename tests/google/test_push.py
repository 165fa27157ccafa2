"""Push channels on the emulator: the provider opens a channel, the emulator POSTs real
notifications to a receiver on 127.0.0.1, `push.verify` accepts only those that carry the
channel's id, resource id and secret token, and `unwatch` stops the channel."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calsync.providers.google import push
from tests.support.google_emulator import USERS, GoogleEmulator
from tests.support.live import serve


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def hook(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response(status_code=200)

    with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:  # type: ignore[arg-type]
        yield base + "/hook", seen


def test_notifications_are_verified_by_channel_resource_and_token(emu: GoogleEmulator,
                                                                    receiver: tuple[str, list[dict[str, Any]]]) -> None:
    address, seen = receiver
    calendar = emu.add_calendar(USERS[0], f"push-{uuid.uuid4().hex[:6]}")
    provider = emu.open(emu.connect(USERS[0]))
    channel = provider.watch(calendar, address, push.new_token())
    assert channel["id"] and channel["resource_id"] and channel["expiration"] > 0
    created = emu.client(USERS[0]).post(f"/calendars/{calendar}/events", json={
        "summary": "x", "start": {"dateTime": "2030-01-01T10:00:00Z"}, "end": {"dateTime": "2030-01-01T11:00:00Z"}})
    emu.client(USERS[0]).delete(f"/calendars/{calendar}/events/{created.json()['id']}")
    emu.post("/notifications/settle")
    assert [push.verify(h, channel) for h in seen] == ["sync", "exists", "not_exists"]
    assert push.verify({**seen[0], "x-goog-channel-token": "forged"}, channel) is None
    assert push.verify({**seen[0], "x-goog-resource-id": "other"}, channel) is None
    assert push.verify({**seen[0], "x-goog-channel-id": "other"}, channel) is None

    provider.unwatch(channel)
    count = len(seen)
    emu.client(USERS[0]).post(f"/calendars/{calendar}/events", json={
        "summary": "y", "start": {"dateTime": "2030-01-02T10:00:00Z"}, "end": {"dateTime": "2030-01-02T11:00:00Z"}})
    emu.post("/notifications/settle")
    assert len(seen) == count
    provider.unwatch(channel)  # already stopped: fine
    provider.close()
