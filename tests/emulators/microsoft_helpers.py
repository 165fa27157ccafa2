"""Helpers the Microsoft emulator tests share: the model-check hook, event bodies, error codes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.emulators import graph_models

WEEKLY = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
          "range": {"type": "numbered", "startDate": "2027-03-01", "numberOfOccurrences": 4}}
MARCH = {"startDateTime": "2027-02-28T00:00:00Z", "endDateTime": "2027-04-30T00:00:00Z"}


def conforms(response: httpx.Response) -> None:
    """Response hook: every Graph body the emulator returns fits the msgraph-sdk models."""
    if "json" not in response.headers.get("content-type", ""):
        return
    response.read()
    found = graph_models.check(response.json())
    assert not found, f"{response.request.method} {response.request.url}: {found}"


def when(text: str, zone: str = "UTC") -> dict[str, str]:
    return {"dateTime": text, "timeZone": zone}


def create(api: httpx.Client, path: str = "/me/events", **body: Any) -> dict[str, Any]:
    body.setdefault("subject", "Call")
    body.setdefault("start", when("2027-03-01T10:00:00"))
    body.setdefault("end", when("2027-03-01T11:00:00"))
    reply = api.post(path, json=body)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def code(reply: httpx.Response) -> str:
    return str(reply.json()["error"]["code"])
