"""The Google Calendar emulator over real HTTP (Uvicorn on loopback), behaviour by behaviour.

Every JSON response with a Calendar `kind` is also checked against the Calendar v3 discovery
document shipped in google-api-python-client (fields, types and enums).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calsync.emulators.google import EmulatorConfig
from tests.emulators import discovery
from tests.support.google_emulator import USERS, GoogleEmulator, google_emulator
from tests.support.live import serve
from tests.support.ports import free_port, wait_for_port

A, B = USERS
ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
REDIRECT = "http://127.0.0.1:8000/oauth/google/callback"


def conforms(response: httpx.Response) -> None:
    """Response hook: every Calendar resource the emulator returns matches the discovery schema."""
    if "json" not in response.headers.get("content-type", ""):
        return
    response.read()
    found = discovery.check(response.json())
    assert not found, f"{response.request.method} {response.request.url}: {found}"


@pytest.fixture
def emu() -> Iterator[GoogleEmulator]:
    with google_emulator(hooks=[conforms]) as emulator:
        yield emulator


@pytest.fixture
def api(emu: GoogleEmulator) -> httpx.Client:
    return emu.client(A)


def timed(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


def new_id() -> str:
    return secrets.token_hex(16)


def insert(api: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("id", new_id())
    body.setdefault("start", {"dateTime": "2027-03-01T10:00:00Z"})
    body.setdefault("end", {"dateTime": "2027-03-01T11:00:00Z"})
    reply = api.post("/calendars/primary/events", json=body)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def reason(reply: httpx.Response) -> str:
    return str(reply.json()["error"]["errors"][0]["reason"])


def list_all(api: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Follows nextPageToken to the end; returns the items and the final nextSyncToken."""
    items: list[dict[str, Any]] = []
    page: str | None = None
    while True:
        query = dict(params, **({"pageToken": page} if page else {}))
        reply = api.get("/calendars/primary/events", params=query)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        items += body["items"]
        assert ("nextPageToken" in body) != ("nextSyncToken" in body)
        if "nextSyncToken" in body:
            return items, body["nextSyncToken"]
        page = body["nextPageToken"]


# ids ---------------------------------------------------------------------------------------------
def test_client_ids_follow_base32hex_rules_and_duplicates_answer_409(api: httpx.Client) -> None:
    for bad in ["ABCDEF12345", "abc-def-123", "abcd", "wxyz12345", "a" * 1025]:
        reply = api.post("/calendars/primary/events", json=timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id=bad))
        assert reply.status_code == 400, bad
    good = insert(api, id="v0" * 3)
    assert good["id"] == "v0v0v0" and good["iCalUID"] == "v0v0v0@google.com"
    again = api.post("/calendars/primary/events", json=timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id="v0v0v0"))
    assert again.status_code == 409 and reason(again) == "duplicate"
    generated = insert(api, id=None)
    assert ID_RE.match(generated["id"])
    both = api.post("/calendars/primary/events",
                    json=timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id=new_id(), iCalUID="x@y"))
    assert both.status_code == 400


def test_a_cancelled_event_keeps_its_id_taken(api: httpx.Client) -> None:
    event = insert(api)
    assert api.delete(f"/calendars/primary/events/{event['id']}").status_code == 204
    again = api.post("/calendars/primary/events", json=timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id=event["id"]))
    assert again.status_code == 409 and reason(again) == "duplicate"


# etag, updated, If-Match -------------------------------------------------------------------------
def test_etag_changes_on_every_edit_but_updated_ignores_reminder_only_edits(api: httpx.Client) -> None:
    event = insert(api, summary="first")
    path = f"/calendars/primary/events/{event['id']}"
    renamed = api.patch(path, json={"summary": "second"}).json()
    assert renamed["etag"] != event["etag"] and renamed["updated"] > event["updated"]
    reminded = api.patch(path, json={"reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 5}]}}).json()
    assert reminded["etag"] != renamed["etag"]
    assert reminded["updated"] == renamed["updated"]
    assert api.get(path).headers["etag"] == reminded["etag"]


def test_if_match_answers_412_on_a_stale_etag_and_if_none_match_304(api: httpx.Client) -> None:
    event = insert(api, summary="v1")
    path = f"/calendars/primary/events/{event['id']}"
    newer = api.patch(path, json={"summary": "v2"}).json()
    stale = {"If-Match": event["etag"]}
    for reply in (api.patch(path, json={"summary": "x"}, headers=stale),
                  api.put(path, json=timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z"), headers=stale),
                  api.delete(path, headers=stale)):
        assert reply.status_code == 412
        assert reply.json()["error"]["errors"][0] == {"domain": "global", "reason": "conditionNotMet",
                                                      "message": "Precondition Failed", "locationType": "header",
                                                      "location": "If-Match"}
    ok = api.patch(path, json={"summary": "v3"}, headers={"If-Match": newer["etag"]})
    assert ok.status_code == 200 and ok.json()["summary"] == "v3"
    assert api.get(path, headers={"If-None-Match": ok.json()["etag"]}).status_code == 304
    assert api.get(path, headers={"If-None-Match": newer["etag"]}).status_code == 200


# patch vs update ---------------------------------------------------------------------------------
def test_patch_merges_objects_replaces_arrays_and_null_deletes_a_property(api: httpx.Client) -> None:
    event = insert(api, summary="s", description="d",
                   attendees=[{"email": "x@example.com"}, {"email": "y@example.com"}],
                   extendedProperties={"private": {"crm": "1", "other": "2"}, "shared": {"s": "3"}})
    path = f"/calendars/primary/events/{event['id']}"
    patched = api.patch(path, json={"attendees": [{"email": "z@example.com"}],
                                    "extendedProperties": {"private": {"other": None, "new": "4"}}}).json()
    assert patched["summary"] == "s" and patched["description"] == "d"
    assert [a["email"] for a in patched["attendees"]] == ["z@example.com"]
    assert patched["extendedProperties"] == {"private": {"crm": "1", "new": "4"}, "shared": {"s": "3"}}


def test_update_replaces_the_whole_event_and_needs_start_and_end(api: httpx.Client) -> None:
    event = insert(api, summary="s", description="d", location="room")
    path = f"/calendars/primary/events/{event['id']}"
    replaced = api.put(path, json=timed("2027-03-02T10:00:00Z", "2027-03-02T12:00:00Z", summary="only"))
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["summary"] == "only" and "description" not in body and "location" not in body
    assert body["start"] == {"dateTime": "2027-03-02T10:00:00Z"} and body["id"] == event["id"]
    missing = api.put(path, json={"summary": "no times"})
    assert missing.status_code == 400


def test_extended_property_limits_drop_long_keys_and_cut_long_values(api: httpx.Client) -> None:
    event = insert(api, extendedProperties={"private": {"k" * 45: "dropped", "v": "x" * 2000}})
    assert event["extendedProperties"]["private"] == {"v": "x" * 1024}
    too_many = api.post("/calendars/primary/events", json=timed(
        "2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", extendedProperties={"private": {f"k{i}": "v" for i in range(301)}}))
    assert too_many.status_code == 400


def test_bad_input_answers_400_with_what_to_fix_never_500(api: httpx.Client) -> None:
    cases = [
        ({"start": {"date": "2027-03-01"}, "end": {"dateTime": "2027-03-01T10:00:00Z"}}, "both be date"),
        ({"start": {"dateTime": "2027-03-01T10:00:00"}, "end": {"dateTime": "2027-03-01T11:00:00"}}, "offset"),
        (timed("2027-03-01T10:00:00Z", "2027-03-01T09:00:00Z"), "empty"),
        (timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", visibility="secret"), "visibility"),
        ({"start": {"dateTime": "2027-03-01T10:00:00", "timeZone": "Mars/Base"},
          "end": {"dateTime": "2027-03-01T11:00:00", "timeZone": "Mars/Base"}}, "time zone"),
    ]
    for body, words in cases:
        reply = api.post("/calendars/primary/events", json=body)
        assert reply.status_code == 400, body
        assert words in reply.json()["error"]["message"], reply.text
    base = timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z")
    for extra in ({"sequence": True}, {"guestsCanModify": "yes"}, {"conferenceData": "meet"}, {"source": {"url": 5}}):
        reply = api.post("/calendars/primary/events", json={**base, **extra}, params={"conferenceDataVersion": 1})
        assert reply.status_code == 400, extra
    garbage = api.post("/calendars/primary/events", content=b"{not json", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400 and reason(garbage) == "parseError"
    assert api.get("/calendars/primary/nothing-here").status_code == 404
    assert api.get("/calendars/nobody%40example.com/events").status_code == 404


def test_all_day_and_zoned_times_keep_their_spelling(api: httpx.Client) -> None:
    day = insert(api, start={"date": "2027-03-01"}, end={"date": "2027-03-02"})
    assert day["start"] == {"date": "2027-03-01"} and day["end"] == {"date": "2027-03-02"}
    zoned = insert(api, start={"dateTime": "2027-03-01T10:00:00", "timeZone": "Europe/Berlin"},
                   end={"dateTime": "2027-03-01T11:00:00", "timeZone": "Europe/Berlin"})
    assert zoned["start"] == {"dateTime": "2027-03-01T10:00:00+01:00", "timeZone": "Europe/Berlin"}


# cancelled tombstones ----------------------------------------------------------------------------
def test_delete_leaves_a_cancelled_tombstone_and_a_second_delete_answers_410(api: httpx.Client) -> None:
    keep, gone = insert(api, summary="keep"), insert(api, summary="gone")
    _, token = list_all(api)
    path = f"/calendars/primary/events/{gone['id']}"
    assert api.delete(path).status_code == 204
    fetched = api.get(path).json()
    assert fetched["status"] == "cancelled" and fetched["summary"] == "gone"
    assert [e["id"] for e in list_all(api)[0]] == [keep["id"]]
    shown = {e["id"]: e["status"] for e in list_all(api, showDeleted="true")[0]}
    assert shown == {keep["id"]: "confirmed", gone["id"]: "cancelled"}
    changes, _ = list_all(api, syncToken=token)
    assert changes == [{"kind": "calendar#event", "etag": changes[0]["etag"], "id": gone["id"], "status": "cancelled"}]
    second = api.delete(path)
    assert second.status_code == 410 and reason(second) == "deleted"


def test_a_cancelled_event_can_be_restored_by_updating_it(api: httpx.Client) -> None:
    event = insert(api, summary="back")
    path = f"/calendars/primary/events/{event['id']}"
    api.delete(path)
    restored = api.patch(path, json={"status": "confirmed"})
    assert restored.status_code == 200 and restored.json()["status"] == "confirmed"
    assert [e["id"] for e in list_all(api)[0]] == [event["id"]]


# recurring ---------------------------------------------------------------------------------------
def weekly(api: httpx.Client, count: int = 4) -> dict[str, Any]:
    return insert(api, summary="standup", start={"dateTime": "2027-03-01T09:00:00", "timeZone": "Europe/Berlin"},
                  end={"dateTime": "2027-03-01T09:30:00", "timeZone": "Europe/Berlin"},
                  recurrence=[f"RRULE:FREQ=WEEKLY;COUNT={count}"])


def test_single_events_expands_a_series_into_instances_with_google_ids(api: httpx.Client) -> None:
    master = weekly(api)
    items, _ = list_all(api, singleEvents="true")
    mid = master["id"]
    assert [e["id"] for e in items] == [f"{mid}_20270301T080000Z", f"{mid}_20270308T080000Z",
                                        f"{mid}_20270315T080000Z", f"{mid}_20270322T080000Z"]
    first = items[0]
    assert first["recurringEventId"] == mid and "recurrence" not in first
    assert first["originalStartTime"] == {"dateTime": "2027-03-01T09:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert first["start"] == first["originalStartTime"] and first["end"]["dateTime"] == "2027-03-01T09:30:00+01:00"
    assert [e["id"] for e in list_all(api)[0]] == [mid]   # without singleEvents: the master only


def test_recurring_masters_need_a_time_zone_and_plain_rule_lines(api: httpx.Client) -> None:
    no_zone = api.post("/calendars/primary/events", json=timed(
        "2027-03-01T09:00:00Z", "2027-03-01T10:00:00Z", recurrence=["RRULE:FREQ=DAILY;COUNT=2"]))
    assert no_zone.status_code == 400 and "time zone" in no_zone.json()["error"]["message"]
    dtstart = api.post("/calendars/primary/events", json={
        "start": {"dateTime": "2027-03-01T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2027-03-01T10:00:00", "timeZone": "UTC"},
        "recurrence": ["DTSTART:20270301T090000Z", "RRULE:FREQ=DAILY"]})
    assert dtstart.status_code == 400


def test_editing_and_deleting_instances_makes_exceptions(api: httpx.Client) -> None:
    master = weekly(api)
    mid = master["id"]
    _, token = list_all(api, singleEvents="true")
    moved = api.patch(f"/calendars/primary/events/{mid}_20270308T080000Z",
                      json={"start": {"dateTime": "2027-03-09T09:00:00+01:00"},
                            "end": {"dateTime": "2027-03-09T09:30:00+01:00"}, "summary": "moved"})
    assert moved.status_code == 200
    assert api.delete(f"/calendars/primary/events/{mid}_20270315T080000Z").status_code == 204
    items, _ = list_all(api, singleEvents="true")
    by_id = {e["id"]: e for e in items}
    assert set(by_id) == {f"{mid}_20270301T080000Z", f"{mid}_20270308T080000Z", f"{mid}_20270322T080000Z"}
    assert by_id[f"{mid}_20270308T080000Z"]["summary"] == "moved"
    assert by_id[f"{mid}_20270308T080000Z"]["originalStartTime"]["dateTime"] == "2027-03-08T09:00:00+01:00"
    with_deleted = {e["id"]: e["status"] for e in list_all(api, singleEvents="true", showDeleted="true")[0]}
    assert with_deleted[f"{mid}_20270315T080000Z"] == "cancelled"
    # singleEvents=false and showDeleted=false: the master, its exception, and its cancelled instance.
    plain = {e["id"]: e["status"] for e in list_all(api)[0]}
    assert plain == {mid: "confirmed", f"{mid}_20270308T080000Z": "confirmed", f"{mid}_20270315T080000Z": "cancelled"}
    changes = list_all(api, singleEvents="true", syncToken=token)[0]
    cancelled = [c for c in changes if c["status"] == "cancelled"]
    assert cancelled == [{"kind": "calendar#event", "etag": cancelled[0]["etag"], "id": f"{mid}_20270315T080000Z",
                          "status": "cancelled", "recurringEventId": mid,
                          "originalStartTime": {"dateTime": "2027-03-15T09:00:00+01:00", "timeZone": "Europe/Berlin"}}]


def test_deleting_a_series_cancels_its_instances_and_exceptions(api: httpx.Client) -> None:
    master = weekly(api, count=3)
    mid = master["id"]
    api.patch(f"/calendars/primary/events/{mid}_20270308T080000Z", json={"summary": "edited"})
    _, token = list_all(api, singleEvents="true")
    assert api.delete(f"/calendars/primary/events/{mid}").status_code == 204
    assert list_all(api, singleEvents="true")[0] == []
    changes = {e["id"]: e["status"] for e in list_all(api, singleEvents="true", syncToken=token)[0]}
    assert changes == {f"{mid}_20270301T080000Z": "cancelled", f"{mid}_20270308T080000Z": "cancelled",
                       f"{mid}_20270315T080000Z": "cancelled"}
    assert api.get(f"/calendars/primary/events/{mid}").json()["status"] == "cancelled"


def test_instances_endpoint_lists_one_series(api: httpx.Client) -> None:
    master = weekly(api, count=3)
    insert(api, summary="other")
    mid = master["id"]
    reply = api.get(f"/calendars/primary/events/{mid}/instances")
    assert reply.status_code == 200
    assert [e["recurringEventId"] for e in reply.json()["items"]] == [mid] * 3
    window = api.get(f"/calendars/primary/events/{mid}/instances",
                     params={"timeMin": "2027-03-08T08:00:00Z", "timeMax": "2027-03-09T00:00:00Z"}).json()
    assert [e["id"] for e in window["items"]] == [f"{mid}_20270308T080000Z"]
    single = api.get(f"/calendars/primary/events/{mid}_20270308T080000Z")
    assert single.status_code == 200 and single.json()["recurringEventId"] == mid
    assert api.get(f"/calendars/primary/events/{mid}_20270309T080000Z").status_code == 404


# time window -------------------------------------------------------------------------------------
def test_time_min_is_exclusive_on_the_end_and_time_max_on_the_start(api: httpx.Client) -> None:
    early = insert(api, start={"dateTime": "2027-03-01T08:00:00Z"}, end={"dateTime": "2027-03-01T09:00:00Z"})
    late = insert(api, start={"dateTime": "2027-03-01T10:00:00Z"}, end={"dateTime": "2027-03-01T11:00:00Z"})
    ids = [e["id"] for e in list_all(api, timeMin="2027-03-01T09:00:00Z", timeMax="2027-03-01T10:00:00Z")[0]]
    assert ids == []
    ids = [e["id"] for e in list_all(api, timeMin="2027-03-01T08:59:00Z", timeMax="2027-03-01T10:01:00Z")[0]]
    assert sorted(ids) == sorted([early["id"], late["id"]])
    no_offset = api.get("/calendars/primary/events", params={"timeMin": "2027-03-01T09:00:00"})
    assert no_offset.status_code == 400
    empty = api.get("/calendars/primary/events", params={"timeMin": "2027-03-01T09:00:00Z", "timeMax": "2027-03-01T09:00:00Z"})
    assert empty.status_code == 400 and reason(empty) == "timeRangeEmpty"


# paging ------------------------------------------------------------------------------------------
def test_paging_follows_max_results_and_the_sync_token_comes_only_on_the_last_page(api: httpx.Client) -> None:
    made = {insert(api, summary=f"e{i}")["id"] for i in range(7)}
    first = api.get("/calendars/primary/events", params={"maxResults": 3}).json()
    assert len(first["items"]) == 3 and "nextPageToken" in first and "nextSyncToken" not in first
    second = api.get("/calendars/primary/events", params={"maxResults": 3, "pageToken": first["nextPageToken"]}).json()
    third = api.get("/calendars/primary/events", params={"maxResults": 3, "pageToken": second["nextPageToken"]}).json()
    assert len(third["items"]) == 1 and "nextSyncToken" in third and "nextPageToken" not in third
    assert {e["id"] for e in first["items"] + second["items"] + third["items"]} == made
    assert api.get("/calendars/primary/events", params={"maxResults": 0}).status_code == 400
    assert api.get("/calendars/primary/events", params={"maxResults": 100000}).status_code == 200
    retried = api.get("/calendars/primary/events", params={"maxResults": 3, "pageToken": first["nextPageToken"]}).json()
    assert retried["items"] == second["items"]   # a page can be asked for again (a retry)
    other_query = api.get("/calendars/primary/events", params={"pageToken": first["nextPageToken"], "q": "e1"})
    assert other_query.status_code == 400
    assert api.get("/calendars/primary/events", params={"pageToken": "garbage"}).status_code == 400


def test_short_and_empty_pages_can_be_injected(emu: GoogleEmulator, api: httpx.Client) -> None:
    made = {insert(api)["id"] for _ in range(5)}
    assert emu.control.post("/pages", json={"sizes": [0, 1, 0]}).status_code == 200
    sizes, seen, page = [], set(), None
    while True:
        body = api.get("/calendars/primary/events", params={"maxResults": 250, **({"pageToken": page} if page else {})}).json()
        sizes.append(len(body["items"]))
        seen |= {e["id"] for e in body["items"]}
        if "nextSyncToken" in body:
            break
        page = body["nextPageToken"]
    assert sizes == [0, 1, 0, 4] and seen == made


# sync tokens -------------------------------------------------------------------------------------
def test_sync_token_returns_changes_only_and_repeats_itself_when_idle(api: httpx.Client) -> None:
    a, b = insert(api, summary="a"), insert(api, summary="b")
    _, token = list_all(api)
    idle, same = list_all(api, syncToken=token)
    assert idle == [] and same == token
    api.patch(f"/calendars/primary/events/{a['id']}", json={"summary": "a2"})
    c = insert(api, summary="c")
    changed, token2 = list_all(api, syncToken=token)
    assert sorted(e["id"] for e in changed) == sorted([a["id"], c["id"]]) and token2 != token
    assert b["id"] not in {e["id"] for e in changed}


def test_sync_token_pages_like_a_full_listing(emu: GoogleEmulator, api: httpx.Client) -> None:
    _, token = list_all(api)
    made = {insert(api)["id"] for _ in range(5)}
    changed, _ = list_all(api, syncToken=token, maxResults=2)
    assert {e["id"] for e in changed} == made


@pytest.mark.parametrize("extra", [
    {"timeMin": "2027-01-01T00:00:00Z"}, {"timeMax": "2027-01-01T00:00:00Z"}, {"orderBy": "updated"},
    {"q": "x"}, {"privateExtendedProperty": "crm=1"}, {"sharedExtendedProperty": "a=b"},
    {"iCalUID": "x@google.com"}, {"updatedMin": "2026-11-30T00:00:00Z"}, {"showDeleted": "false"},
])
def test_sync_token_with_a_forbidden_parameter_answers_400(api: httpx.Client, extra: dict[str, str]) -> None:
    _, token = list_all(api)
    reply = api.get("/calendars/primary/events", params={"syncToken": token, **extra})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == "Sync token cannot be used with other request restrictions."


def test_expired_or_garbled_sync_tokens_answer_410(emu: GoogleEmulator, api: httpx.Client) -> None:
    insert(api)
    _, token = list_all(api)
    garbled = api.get("/calendars/primary/events", params={"syncToken": token[:-3] + "zzz"})
    assert garbled.status_code == 410 and reason(garbled) == "fullSyncRequired"
    assert api.get("/calendars/primary/events", params={"syncToken": token}).status_code == 200
    assert emu.control.post("/expire-sync-tokens").status_code == 200
    expired = api.get("/calendars/primary/events", params={"syncToken": token})
    assert expired.status_code == 410
    assert expired.json()["error"]["errors"][0] == {
        "domain": "calendar", "reason": "fullSyncRequired", "message": "Sync token is no longer valid, a full sync is required.",
        "locationType": "parameter", "location": "syncToken"}
    items, fresh = list_all(api)
    assert len(items) == 1 and list_all(api, syncToken=fresh)[0] == []


def test_sync_tokens_can_be_given_a_lifetime(emu: GoogleEmulator, api: httpx.Client) -> None:
    _, token = list_all(api)
    emu.control.post("/sync-tokens", json={"ttl_seconds": 600})
    assert api.get("/calendars/primary/events", params={"syncToken": token}).status_code == 200
    emu.control.post("/clock", json={"advance_seconds": 601})
    assert api.get("/calendars/primary/events", params={"syncToken": token}).status_code == 410


def test_updated_min_includes_deletions_and_refuses_a_time_too_long_ago(emu: GoogleEmulator, api: httpx.Client) -> None:
    old = insert(api, summary="old")
    api.delete(f"/calendars/primary/events/{old['id']}")
    recent = api.get("/calendars/primary/events", params={"updatedMin": "2000-01-01T00:00:00Z"})
    assert recent.status_code == 410 and reason(recent) == "updatedMinTooLongAgo"
    body = api.get("/calendars/primary/events", params={"updatedMin": old["created"]}).json()
    assert [(e["id"], e["status"]) for e in body["items"]] == [(old["id"], "cancelled")]


# extended-property filters -----------------------------------------------------------------------
def test_private_extended_property_filters(api: httpx.Client) -> None:
    one = insert(api, extendedProperties={"private": {"crm": "1"}, "shared": {"team": "x"}})
    two = insert(api, extendedProperties={"private": {"crm": "2"}})
    insert(api, extendedProperties={"shared": {"crm": "1"}})
    ids = lambda **p: sorted(e["id"] for e in list_all(api, **p)[0])  # noqa: E731
    assert ids(privateExtendedProperty="crm=1") == [one["id"]]
    # Repeated constraints of one kind are OR'ed (extended-properties guide; the discovery text says AND).
    assert ids(privateExtendedProperty=["crm=1", "crm=2"]) == sorted([one["id"], two["id"]])
    assert ids(privateExtendedProperty=["crm=1", "crm=2"], sharedExtendedProperty="team=x") == [one["id"]]
    assert api.get("/calendars/primary/events", params={"privateExtendedProperty": "novalue"}).status_code == 400


# watch channels ----------------------------------------------------------------------------------
class Receiver:
    """A real webhook endpoint on loopback that records what arrives."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.bodies: list[bytes] = []

        async def hook(request: Request) -> Response:
            self.seen.append({k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-goog-")})
            self.bodies.append(await request.body())
            return Response(status_code=200)

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with serve(rec.app) as base:  # type: ignore[arg-type]
        yield rec, base + "/hook"


def settle(emu: GoogleEmulator) -> None:
    assert emu.control.post("/notifications/settle").json() == {"idle": True}


def test_watch_posts_sync_then_exists_and_not_exists_with_the_channel_headers(
        emu: GoogleEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, address = receiver
    channel = api.post("/calendars/primary/events/watch",
                       json={"id": "chan-1", "type": "web_hook", "address": address, "token": "secret-42"}).json()
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1" and channel["token"] == "secret-42"
    assert int(channel["expiration"]) > 0 and channel["resourceId"]
    event = insert(api)
    api.delete(f"/calendars/primary/events/{event['id']}")
    settle(emu)
    states = [(h["x-goog-resource-state"], h["x-goog-message-number"]) for h in rec.seen]
    assert states == [("sync", "1"), ("exists", "2"), ("not_exists", "3")]
    for headers in rec.seen:
        assert headers["x-goog-channel-id"] == "chan-1" and headers["x-goog-channel-token"] == "secret-42"
        assert headers["x-goog-resource-id"] == channel["resourceId"]
    assert rec.bodies == [b"", b"", b""]
    other = emu.client(B)
    insert(other)   # another user's calendar: not this channel's business
    settle(emu)
    assert len(rec.seen) == 3


def test_channels_stop_needs_the_matching_resource_id_and_ends_notifications(
        emu: GoogleEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, address = receiver
    channel = api.post("/calendars/primary/events/watch", json={"id": "c2", "type": "web_hook", "address": address}).json()
    wrong = api.post("/channels/stop", json={"id": "c2", "resourceId": "nope"})
    assert wrong.status_code == 404
    assert api.post("/channels/stop", json={"id": "c2", "resourceId": channel["resourceId"]}).status_code == 204
    insert(api)
    settle(emu)
    assert [h["x-goog-resource-state"] for h in rec.seen] == ["sync"]
    assert "x-goog-channel-token" not in rec.seen[0]


def test_watch_validates_the_channel(api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    _, address = receiver
    assert api.post("/calendars/primary/events/watch", json={"id": "x" * 65, "type": "web_hook", "address": address}).status_code == 400
    assert api.post("/calendars/primary/events/watch", json={"id": "c", "type": "email", "address": address}).status_code == 400
    plain = api.post("/calendars/primary/events/watch", json={"id": "c", "type": "web_hook", "address": "http://example.com/hook"})
    assert plain.status_code == 400 and "HTTPS" in plain.json()["error"]["message"]
    assert api.post("/calendars/primary/events/watch", json={"id": "c", "type": "web_hook", "address": address}).status_code == 200
    assert api.post("/calendars/primary/events/watch", json={"id": "c", "type": "web_hook", "address": address}).status_code == 400


def test_notifications_can_be_dropped_held_back_and_delivered_after_stop(
        emu: GoogleEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, address = receiver
    channel = api.post("/calendars/primary/events/watch", json={"id": "c3", "type": "web_hook", "address": address}).json()
    emu.control.post("/notifications", json={"drop_next": 1})
    insert(api)                                   # message 2: dropped
    insert(api)                                   # message 3: delivered
    settle(emu)
    assert [h["x-goog-message-number"] for h in rec.seen] == ["1", "3"]
    emu.control.post("/notifications", json={"hold": True})
    insert(api)                                   # message 4: held
    settle(emu)
    assert len(rec.seen) == 2
    assert emu.control.post("/notifications/release").json() == {"released": 1}
    settle(emu)
    assert [h["x-goog-message-number"] for h in rec.seen] == ["1", "3", "4"]
    emu.control.post("/notifications", json={"deliver_after_stop": 1})
    api.post("/channels/stop", json={"id": "c3", "resourceId": channel["resourceId"]})
    insert(api)                                   # message 5: arrives after stop
    insert(api)                                   # nothing more
    settle(emu)
    assert [h["x-goog-message-number"] for h in rec.seen] == ["1", "3", "4", "5"]
    log = emu.control.get("/notifications").json()["notifications"]
    assert [n["outcome"] for n in log] == ["delivered", "dropped", "delivered", "delivered", "delivered"]


def test_channels_expire_silently(emu: GoogleEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, address = receiver
    channel = api.post("/calendars/primary/events/watch", json={"id": "short", "type": "web_hook", "address": address,
                                                                "params": {"ttl": "60"}}).json()
    assert abs(int(channel["expiration"]) / 1000 - (time.time() + 60)) < 30
    emu.control.post("/clock", json={"advance_seconds": 61})
    insert(api)
    settle(emu)
    assert [h["x-goog-resource-state"] for h in rec.seen] == ["sync"]


def test_a_share_of_notifications_can_be_lost_at_random(
        emu: GoogleEmulator, api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    rec, address = receiver
    api.post("/calendars/primary/events/watch", json={"id": "c4", "type": "web_hook", "address": address})
    assert emu.control.post("/notifications", json={"drop_rate": 1.5}).status_code == 400
    emu.control.post("/notifications", json={"drop_rate": 0.5, "seed": 1})
    for _ in range(20):
        insert(api)
    settle(emu)
    outcomes = [n["outcome"] for n in emu.control.get("/notifications").json()["notifications"][1:]]
    assert 0 < outcomes.count("dropped") < 20 and len(rec.seen) == 1 + outcomes.count("delivered")


# batch -------------------------------------------------------------------------------------------
def multipart(parts: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]) -> tuple[str, bytes]:
    boundary = "===b" + secrets.token_hex(6)
    chunks = []
    for i, (method, path, body, headers) in enumerate(parts, 1):
        lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        payload = ""
        if body is not None:
            lines.append("Content-Type: application/json")
            payload = json.dumps(body)
        chunks.append(f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n"
                      + "\r\n".join(lines) + "\r\n\r\n" + payload + "\r\n")
    return f"multipart/mixed; boundary={boundary}", ("".join(chunks) + f"--{boundary}--\r\n").encode()


def parse_batch_reply(reply: httpx.Response) -> list[tuple[str, int, str]]:
    boundary = reply.headers["content-type"].split("boundary=")[1]
    out = []
    for chunk in reply.content.decode().split("--" + boundary)[1:-1]:
        head, _, http = chunk.strip("\r\n").partition("\r\n\r\n")
        content_id = re.search(r"Content-ID: <([^>]+)>", head).group(1)  # type: ignore[union-attr]
        status = int(http.split(" ", 2)[1])
        out.append((content_id, status, http.partition("\r\n\r\n")[2]))
    return out


def test_batch_runs_parts_in_order_and_each_may_fail_on_its_own(emu: GoogleEmulator, api: httpx.Client) -> None:
    existing = insert(api, summary="there")
    before = len(emu.requests())
    new = new_id()
    ctype, body = multipart([
        ("POST", "/calendar/v3/calendars/primary/events?sendUpdates=none",
         timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id=new, summary="new"), {}),
        ("POST", "/calendar/v3/calendars/primary/events",
         timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id=existing["id"]), {}),
        ("PATCH", f"/calendar/v3/calendars/primary/events/{existing['id']}", {"summary": "x"}, {"If-Match": '"1"'}),
        ("DELETE", f"/calendar/v3/calendars/primary/events/{existing['id']}", None, {}),
    ])
    reply = httpx.post(emu.base + "/batch/calendar/v3", content=body,
                       headers={"Content-Type": ctype, "Authorization": api.headers["Authorization"]})
    assert reply.status_code == 200
    parts = parse_batch_reply(reply)
    assert [(cid, status) for cid, status, _ in parts] == [
        ("response-item1", 200), ("response-item2", 409), ("response-item3", 412), ("response-item4", 204)]
    assert not discovery.check(json.loads(parts[0][2]))
    log = emu.requests(since=before)
    assert len(log) == 1 and log[0]["path"] == "/batch/calendar/v3"
    assert [(p["method"], p["status"]) for p in log[0]["parts"]] == [("POST", 200), ("POST", 409), ("PATCH", 412), ("DELETE", 204)]
    assert log[0]["parts"][0]["query"] == {"sendUpdates": ["none"]}
    assert log[0]["parts"][0]["body"]["id"] == new
    assert log[0]["parts"][2]["headers"]["if-match"] == '"1"'
    assert api.get(f"/calendars/primary/events/{new}").json()["summary"] == "new"


def test_batch_refuses_more_parts_than_allowed() -> None:
    with google_emulator(EmulatorConfig(users=[A], max_batch_parts=50)) as emu:
        api = emu.client(A)
        auth = {"Authorization": api.headers["Authorization"]}
        ok_type, ok_body = multipart([("GET", "/calendar/v3/calendars/primary/events", None, {})] * 50)
        assert httpx.post(emu.base + "/batch/calendar/v3", content=ok_body, headers={"Content-Type": ok_type, **auth}).status_code == 200
        big_type, big_body = multipart([("GET", "/calendar/v3/calendars/primary/events", None, {})] * 51)
        too_big = httpx.post(emu.base + "/batch/calendar/v3", content=big_body, headers={"Content-Type": big_type, **auth})
        assert too_big.status_code == 400 and "at most 50" in too_big.json()["error"]["message"]
        plain = httpx.post(emu.base + "/batch/calendar/v3", content=b"x", headers={"Content-Type": "text/plain", **auth})
        assert plain.status_code == 400


def test_the_real_google_client_lists_inserts_and_batches_against_the_emulator(emu: GoogleEmulator) -> None:
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build
    from googleapiclient.http import BatchHttpRequest

    service = build("calendar", "v3", credentials=Credentials(emu.token(A)), static_discovery=True,
                    client_options={"api_endpoint": emu.base + "/calendar/v3/"}, cache_discovery=False)
    made = service.events().insert(calendarId="primary", sendUpdates="none", body=timed(
        "2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id="abcdef0123", summary="by client")).execute()
    assert made["id"] == "abcdef0123"
    results: dict[str, Any] = {}

    def done(request_id: str, response: Any, exception: Exception | None) -> None:
        results[request_id] = exception or response

    batch = BatchHttpRequest(callback=done, batch_uri=emu.base + "/batch/calendar/v3")
    batch.add(service.events().patch(calendarId="primary", eventId="abcdef0123", body={"summary": "patched"}), request_id="p")
    batch.add(service.events().insert(calendarId="primary", body=timed(
        "2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z", id="abcdef0123")), request_id="dup")
    batch.execute()
    assert results["p"]["summary"] == "patched"
    assert getattr(results["dup"], "status_code", None) == 409
    listed = service.events().list(calendarId="primary", singleEvents=True, maxResults=10).execute()
    assert [e["summary"] for e in listed["items"]] == ["patched"] and "nextSyncToken" in listed


# quotas and faults -------------------------------------------------------------------------------
def test_per_user_quota_answers_403_user_rate_limit_and_a_patch_costs_three(emu: GoogleEmulator, api: httpx.Client) -> None:
    event = insert(api)
    emu.control.post("/quota", json={"per_user_per_minute": 4, "reset": True})
    assert api.patch(f"/calendars/primary/events/{event['id']}", json={"summary": "x"}).status_code == 200   # 3 units
    assert api.get("/calendars/primary/events").status_code == 200                                        # 4 units
    limited = api.get("/calendars/primary/events")
    assert limited.status_code == 403
    assert limited.json()["error"]["errors"][0]["domain"] == "usageLimits" and reason(limited) == "userRateLimitExceeded"
    assert emu.client(B).get("/calendars/primary/events").status_code == 200   # another user has own budget
    emu.control.post("/clock", json={"advance_seconds": 61})
    assert api.get("/calendars/primary/events").status_code == 200


def test_quota_can_answer_429_with_retry_after_and_counts_batch_parts(emu: GoogleEmulator, api: httpx.Client) -> None:
    emu.control.post("/quota", json={"per_user_per_minute": 2, "status": 429, "retry_after": 7})
    ctype, body = multipart([("GET", "/calendar/v3/calendars/primary/events", None, {})] * 3)
    reply = httpx.post(emu.base + "/batch/calendar/v3", content=body,
                       headers={"Content-Type": ctype, "Authorization": api.headers["Authorization"]})
    statuses = [status for _, status, _ in parse_batch_reply(reply)]
    assert reply.status_code == 200 and statuses == [200, 200, 429]
    alone = api.get("/calendars/primary/events")
    assert alone.status_code == 429 and reason(alone) == "rateLimitExceeded" and alone.headers["retry-after"] == "7"


def test_faults_fail_the_next_matching_calls(emu: GoogleEmulator, api: httpx.Client) -> None:
    event = insert(api)
    path = f"/calendars/primary/events/{event['id']}"
    assert emu.control.post("/faults", json={"status": 503, "count": 2, "methods": ["PATCH"]}).status_code == 200
    assert api.get(path).status_code == 200
    assert [api.patch(path, json={"summary": str(i)}).status_code for i in range(3)] == [503, 503, 200]
    emu.control.post("/faults", json={"status": 403, "count": 1})
    limited = api.get(path)
    assert limited.status_code == 403 and reason(limited) == "rateLimitExceeded"
    assert emu.control.post("/faults", json={"status": 200}).status_code == 400


# auth and OAuth ----------------------------------------------------------------------------------
def test_api_needs_a_valid_bearer_token_with_the_right_scope(emu: GoogleEmulator) -> None:
    anonymous = httpx.get(emu.base + "/calendar/v3/calendars/primary/events")
    assert anonymous.status_code == 401 and reason(anonymous) == "authError"
    events_only = emu.client(A, scopes=["https://www.googleapis.com/auth/calendar.events"])
    assert events_only.get("/calendars/primary/events").status_code == 200
    denied = events_only.get("/users/me/calendarList")
    assert denied.status_code == 403 and reason(denied) == "insufficientPermissions"
    emu.control.post("/expire-access-tokens")
    assert events_only.get("/calendars/primary/events").status_code == 401


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def consent(emu: GoogleEmulator, challenge: str, **extra: str) -> httpx.Response:
    params = {"client_id": emu.config.client_id, "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly",
              "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256",
              "access_type": "offline", **extra}
    return httpx.get(emu.base + "/o/oauth2/v2/auth", params=params)


def allow(emu: GoogleEmulator, page: httpx.Response, user: str) -> dict[str, list[str]]:
    """Submits the user's plain HTML form exactly as a browser would, without running any script."""
    form = re.search(rf'<form method="post" action="([^"]+)">((?:(?!</form>).)*value="{re.escape(user)}"(?:(?!</form>).)*)</form>',
                     page.text, re.S)
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    fields["decision"] = "allow"
    reply = httpx.post(emu.base + form.group(1), data=fields)
    assert reply.status_code == 302 and "set-cookie" not in reply.headers
    location = urlsplit(reply.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return parse_qs(location.query)


def exchange(emu: GoogleEmulator, **form: str) -> httpx.Response:
    return httpx.post(emu.base + "/token", data={"client_id": emu.config.client_id,
                                                 "client_secret": emu.config.client_secret, **form})


def test_consent_page_is_plain_html_listing_every_user(emu: GoogleEmulator) -> None:
    _, challenge = pkce()
    page = consent(emu, challenge)
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert "<script" not in page.text.lower()
    for user in USERS:
        assert user in page.text
    assert page.text.count(">Allow</button>") == len(USERS)
    wrong = consent(emu, challenge, redirect_uri="http://127.0.0.1:9999/evil")
    assert wrong.status_code == 400 and "redirect_uri_mismatch" in wrong.text
    plain = consent(emu, challenge, code_challenge_method="plain")
    assert plain.status_code == 400


def test_authorization_code_with_pkce_then_refresh(emu: GoogleEmulator) -> None:
    verifier, challenge = pkce()
    back = allow(emu, consent(emu, challenge), B)
    assert back["state"] == ["st-1"]
    code = back["code"][0]
    bad = exchange(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier="wrong" * 10)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    good = exchange(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert good.status_code == 200, good.text
    tokens = good.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]
    reuse = exchange(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    calendars = httpx.get(emu.base + "/calendar/v3/users/me/calendarList",
                          headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert [c["id"] for c in calendars["items"]] == [B]
    refreshed = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
    again = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 200
    wrong_client = httpx.post(emu.base + "/token", data={"client_id": "x", "client_secret": "y",
                                                         "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"


def test_authlib_completes_the_flow_and_refreshes(emu: GoogleEmulator) -> None:
    """The OAuth client library the provider will use speaks to the emulator unchanged."""
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client

    client = OAuth2Client(emu.config.client_id, emu.config.client_secret, redirect_uri=REDIRECT,
                          scope="https://www.googleapis.com/auth/calendar", code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = client.create_authorization_url(emu.base + "/o/oauth2/v2/auth", code_verifier=verifier,
                                                 access_type="offline")
    back = allow(emu, httpx.get(url), A)
    assert back["state"] == [state]
    token = client.fetch_token(emu.base + "/token", code=back["code"][0], code_verifier=verifier)
    assert token["refresh_token"] and token["expires_at"] > time.time()
    refreshed = client.refresh_token(emu.base + "/token", refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    listed = httpx.get(emu.base + "/calendar/v3/calendars/primary/events",
                       headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert listed.status_code == 200
    assert [g["pkce"] for g in emu.control.get("/grants").json()["grants"]] == [True]


def test_refresh_token_rotation_retires_the_old_token(emu: GoogleEmulator) -> None:
    emu.control.post("/oauth", json={"rotate_refresh_tokens": True})
    verifier, challenge = pkce()
    code = allow(emu, consent(emu, challenge), A)["code"][0]
    first = exchange(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier).json()
    second = exchange(emu, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    old = exchange(emu, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert exchange(emu, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 200


def test_revocation_ends_refresh_and_access(emu: GoogleEmulator) -> None:
    verifier, challenge = pkce()
    code = allow(emu, consent(emu, challenge), A)["code"][0]
    tokens = exchange(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(emu.base + "/calendar/v3/calendars/primary/events", headers=auth).status_code == 200
    assert emu.control.post("/revoke", json={"user": A}).json() == {"revoked_grants": 1}
    refused = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    assert httpx.get(emu.base + "/calendar/v3/calendars/primary/events", headers=auth).status_code == 401
    assert emu.control.post("/revoke", json={"user": "nobody@example.com"}).status_code == 400


# calendarList ------------------------------------------------------------------------------------
def test_calendar_list_shows_the_primary_calendar_and_access_roles(emu: GoogleEmulator, api: httpx.Client) -> None:
    emu.control.post("/calendars", json={"user": A, "summary": "Holidays", "access_role": "reader"})
    body = api.get("/users/me/calendarList").json()
    roles = {c["summary"]: (c["accessRole"], c.get("primary", False)) for c in body["items"]}
    assert roles == {A: ("owner", True), "Holidays": ("reader", False)}
    assert "nextSyncToken" in body
    writable = api.get("/users/me/calendarList", params={"minAccessRole": "writer"}).json()
    assert [c["id"] for c in writable["items"]] == [A]
    holidays = next(c["id"] for c in body["items"] if c["summary"] == "Holidays")
    refused = api.post(f"/calendars/{holidays}/events", json=timed("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z"))
    assert refused.status_code == 403 and reason(refused) == "requiredAccessLevel"


# request log -------------------------------------------------------------------------------------
def test_request_log_records_api_calls_only_in_full_and_since_a_sequence(emu: GoogleEmulator, api: httpx.Client) -> None:
    big = "d" * 100_000
    insert(api, description=big)
    api.get("/calendars/primary/events", params={"privateExtendedProperty": ["a=1", "b=2"], "maxResults": 5})
    _, challenge = pkce()
    consent(emu, challenge)
    emu.control.post("/quota", json={})
    log = emu.requests()
    assert [e["seq"] for e in log] == [1, 2]
    assert log[0]["method"] == "POST" and log[0]["body"]["description"] == big and log[0]["status"] == 200
    assert log[0]["headers"]["authorization"].startswith("Bearer ")
    assert log[1]["query"] == {"privateExtendedProperty": ["a=1", "b=2"], "maxResults": ["5"]}
    assert log[1]["path"] == "/calendar/v3/calendars/primary/events" and log[1]["parts"] == []
    assert [e["seq"] for e in emu.requests(since=1)] == [2]
    assert emu.control.get("/requests", params={"since": "x"}).status_code == 400


# discovery conformance ---------------------------------------------------------------------------
def test_a_rich_event_listing_and_instances_match_the_discovery_schema(emu: GoogleEmulator, api: httpx.Client) -> None:
    rich = insert(api, summary="rich", description="d", location="l", visibility="private", transparency="transparent",
                  colorId="5", attendees=[{"email": A}, {"email": "x@example.com", "optional": True}],
                  reminders={"useDefault": False, "overrides": [{"method": "email", "minutes": 30}]},
                  extendedProperties={"private": {"crm": "1"}, "shared": {"s": "2"}}, sequence=2,
                  start={"dateTime": "2027-03-01T09:00:00", "timeZone": "Europe/Berlin"},
                  end={"dateTime": "2027-03-01T10:00:00", "timeZone": "Europe/Berlin"},
                  recurrence=["RRULE:FREQ=DAILY;COUNT=3", "EXDATE;TZID=Europe/Berlin:20270302T090000"],
                  conferenceData={"createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}})
    conf = api.patch(f"/calendars/primary/events/{rich['id']}", params={"conferenceDataVersion": 1},
                     json={"conferenceData": {"createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}}).json()
    assert conf["hangoutLink"] and conf["conferenceData"]["entryPoints"][0]["entryPointType"] == "video"
    insert(api, start={"date": "2027-03-05"}, end={"date": "2027-03-06"}, status="tentative")
    api.delete(f"/calendars/primary/events/{rich['id']}_20270303T080000Z")
    responses = [
        api.get("/calendars/primary/events"), api.get("/calendars/primary/events", params={"singleEvents": "true"}),
        api.get("/calendars/primary/events", params={"showDeleted": "true", "singleEvents": "true"}),
        api.get(f"/calendars/primary/events/{rich['id']}/instances", params={"showDeleted": "true"}),
        api.get(f"/calendars/primary/events/{rich['id']}"), api.get("/users/me/calendarList"), api.get("/calendars/primary"),
    ]
    bodies = [r.json() for r in responses]
    assert [b["kind"] for b in bodies] == ["calendar#events"] * 4 + ["calendar#event", "calendar#calendarList", "calendar#calendar"]
    assert all(not discovery.check(b) for b in bodies)
    single = [e["id"] for e in bodies[1]["items"]]
    assert single[0].endswith("_20270301T080000Z") and len(single) == 2   # EXDATE and the cancelled one are gone
    seen_fields = {k for b in bodies[:5] for e in (b.get("items") or [b]) for k in e}
    assert {"attendees", "reminders", "extendedProperties", "recurrence", "recurringEventId", "originalStartTime",
            "hangoutLink", "conferenceData", "visibility", "transparency", "iCalUID", "sequence"} <= seen_fields


def test_each_method_accepts_the_scopes_the_discovery_document_lists() -> None:
    from calsync.emulators.google.events_api import SCOPES

    for name, accepted in SCOPES.items():
        resource, method = name.split(".")
        assert accepted == set(discovery.DOC["resources"][resource]["methods"][method]["scopes"]), name


def test_the_schema_check_catches_unknown_fields_and_bad_enums() -> None:
    assert discovery.check({"kind": "calendar#event", "id": "x", "status": "gone"})
    assert discovery.check({"kind": "calendar#event", "id": "x", "colour": "red"})
    assert not discovery.check({"kind": "calendar#event", "id": "x", "status": "cancelled"})


# the command -------------------------------------------------------------------------------------
def test_emulate_google_prints_flushed_exports_before_serving(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from calsync.cli import app; app()", "emulate", "google",
                             "--port", str(port), "--users", f"{A},{B}", "--time-zone", "Europe/Berlin"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        values = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        base = f"http://127.0.0.1:{port}"
        assert values == {"CALSYNC_GOOGLE_CLIENT_ID": "calsync-emulator-client",
                          "CALSYNC_GOOGLE_CLIENT_SECRET": "calsync-emulator-secret",
                          "CALSYNC_GOOGLE_API_URL": base, "CALSYNC_GOOGLE_AUTH_URL": base + "/o/oauth2/v2/auth",
                          "CALSYNC_GOOGLE_TOKEN_URL": base + "/token"}
        wait_for_port(port)
        token = httpx.post(base + "/_emulator/token", json={"user": B}).json()["access_token"]
        listed = httpx.get(values["CALSYNC_GOOGLE_API_URL"] + "/calendar/v3/users/me/calendarList",
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert [(c["id"], c["timeZone"]) for c in listed["items"]] == [(B, "Europe/Berlin")]
        page = httpx.get(values["CALSYNC_GOOGLE_AUTH_URL"], params={
            "client_id": values["CALSYNC_GOOGLE_CLIENT_ID"], "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "https://www.googleapis.com/auth/calendar"})
        assert page.status_code == 200 and A in page.text and B in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    bad = subprocess.run([sys.executable, "-c", "from calsync.cli import app; app()", "emulate", "google",
                          "--users", "not-an-address"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "--users takes comma-separated e-mail addresses" in bad.stdout
