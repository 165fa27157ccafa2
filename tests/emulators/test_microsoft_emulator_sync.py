"""The Microsoft Graph emulator over real HTTP: calendarView delta, `$batch`, throttling, faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.emulators.microsoft_helpers import WEEKLY, code, conforms, create, when
from tests.support.microsoft_emulator import USERS, MicrosoftEmulator, microsoft_emulator

A, B = USERS
DELTA = "/me/calendarView/delta?startDateTime=2027-02-28T00:00:00Z&endDateTime=2027-04-30T00:00:00Z"


@pytest.fixture
def emu() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator(hooks=[conforms]) as emulator:
        yield emulator


@pytest.fixture
def api(emu: MicrosoftEmulator) -> httpx.Client:
    return emu.client(A)


def rounds(api: httpx.Client, url: str, headers: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str, int]:
    """Follows @odata.nextLink to the @odata.deltaLink: (items, deltaLink, pages)."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        reply = api.get(url, headers=headers or {})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        pages += 1
        items += body["value"]
        assert ("@odata.nextLink" in body) != ("@odata.deltaLink" in body)
        if "@odata.deltaLink" in body:
            assert "$deltatoken=" in body["@odata.deltaLink"]
            return items, body["@odata.deltaLink"], pages
        assert "$skiptoken=" in body["@odata.nextLink"]
        url = body["@odata.nextLink"]


def march(api: httpx.Client, day: int, **extra: Any) -> dict[str, Any]:
    return create(api, start=when(f"2027-03-{day:02d}T10:00:00"), end=when(f"2027-03-{day:02d}T11:00:00"), **extra)


# delta ---------------------------------------------------------------------------------------------
def test_delta_pages_with_next_links_until_a_delta_link_and_honours_maxpagesize(api: httpx.Client) -> None:
    made = [march(api, d) for d in range(1, 6)]
    first = api.get(DELTA, headers={"Prefer": "odata.maxpagesize=2"})
    assert "odata.maxpagesize=2" in first.headers["preference-applied"]
    items, link, pages = rounds(api, DELTA, {"Prefer": "odata.maxpagesize=2"})
    assert pages == 3 and sorted(i["id"] for i in items) == sorted(e["id"] for e in made)
    assert all(i["@odata.type"] == "#microsoft.graph.event" for i in items)
    idle, again, _ = rounds(api, link)
    assert idle == [] and again.startswith(api.base_url.scheme)


def test_delta_pages_hold_up_to_100_events_by_default(api: httpx.Client) -> None:
    for i in range(101):
        create(api, start=when(f"2027-03-{1 + i % 28:02d}T{i // 28 + 8:02d}:00:00"),
               end=when(f"2027-03-{1 + i % 28:02d}T{i // 28 + 8:02d}:30:00"))
    first = api.get(DELTA).json()
    assert len(first["value"]) == 100 and "@odata.nextLink" in first
    second = api.get(first["@odata.nextLink"]).json()
    assert len(second["value"]) == 1 and "@odata.deltaLink" in second


def test_delta_returns_changes_and_removed_items_deleted_or_left_the_window(
        emu: MicrosoftEmulator, api: httpx.Client) -> None:
    edited, deleted, leaving, leaving_too = (march(api, d, subject=f"e{d}") for d in (1, 2, 3, 4))
    _, link, _ = rounds(api, DELTA)
    api.patch(f"/me/events/{edited['id']}", json={"subject": "edited"})
    api.delete(f"/me/events/{deleted['id']}")
    api.patch(f"/me/events/{leaving['id']}", json={"start": when("2027-09-01T10:00:00"), "end": when("2027-09-01T11:00:00")})
    added = march(api, 5, subject="new")
    changes, link, _ = rounds(api, link)
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {edited["id"], deleted["id"], leaving["id"], added["id"]}
    assert by_id[edited["id"]]["subject"] == "edited" and by_id[added["id"]]["subject"] == "new"
    assert by_id[deleted["id"]] == {"@odata.type": "#microsoft.graph.event", "id": deleted["id"],
                                    "@removed": {"reason": "deleted"}}
    assert by_id[leaving["id"]]["@removed"] == {"reason": "changed"}    # still exists, outside the window
    assert api.get(f"/me/events/{leaving['id']}").status_code == 200
    emu.post("/delta", {"left_window_reason": "deleted"})
    api.patch(f"/me/events/{leaving_too['id']}", json={"start": when("2027-09-02T10:00:00"),
                                                       "end": when("2027-09-02T11:00:00")})
    changes, _, _ = rounds(api, link)
    assert changes == [{"@odata.type": "#microsoft.graph.event", "id": leaving_too["id"],
                        "@removed": {"reason": "deleted"}}]


def test_delta_follows_series_occurrences_exceptions_and_cancellations(api: httpx.Client) -> None:
    master = create(api, subject="Weekly", start=when("2027-03-01T09:00:00"), end=when("2027-03-01T09:30:00"),
                    recurrence=WEEKLY)
    items, link, _ = rounds(api, DELTA)
    assert [i["type"] for i in items] == ["occurrence"] * 4 and {i["seriesMasterId"] for i in items} == {master["id"]}
    api.delete(f"/me/events/{items[1]['id']}")
    api.patch(f"/me/events/{items[2]['id']}", json={"subject": "Special"})
    changes, _, _ = rounds(api, link)
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {items[1]["id"], items[2]["id"]}    # the other occurrences did not change
    assert by_id[items[1]["id"]]["@removed"] == {"reason": "deleted"}
    assert by_id[items[2]["id"]]["type"] == "exception" and by_id[items[2]["id"]]["subject"] == "Special"


def test_evicted_delta_tokens_answer_410_sync_state_not_found(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    march(api, 1)
    march(api, 2)
    first = api.get(DELTA, headers={"Prefer": "odata.maxpagesize=1"}).json()
    _, link, _ = rounds(api, DELTA)
    assert emu.post("/expire-sync-tokens")["mode"] == "evict"
    for stale in (link, first["@odata.nextLink"]):
        reply = api.get(stale)
        assert reply.status_code == 410 and code(reply) == "SyncStateNotFound"
        assert reply.json()["error"]["message"].startswith("The sync state generation is not found;")
    assert api.get(DELTA.replace("startDateTime", "x") + "&$deltatoken=garbage").status_code == 410
    items, _, _ = rounds(api, DELTA)    # a new round from scratch works
    assert len(items) == 2


def test_a_forced_resync_answers_410_with_a_location_that_starts_over(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    march(api, 1)
    _, link, _ = rounds(api, DELTA)
    emu.post("/expire-sync-tokens", {"mode": "resync"})
    reply = api.get(link)
    assert reply.status_code == 410 and code(reply) == "resyncRequired"
    fresh, _, _ = rounds(api, reply.headers["location"])
    assert len(fresh) == 1 and "@removed" not in fresh[0]


def test_the_delta_token_cache_evicts_the_least_recently_used(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    emu.post("/delta", {"cache_size": 2})
    march(api, 1)
    _, oldest, _ = rounds(api, DELTA)
    _, newer, _ = rounds(api, DELTA)
    api.get(oldest)   # used again: now the most recent; this round minted a third token
    assert api.get(newer).status_code == 410
    assert api.get(oldest).status_code == 200


def test_a_delta_link_is_good_only_for_its_own_mailbox(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    march(api, 1)
    _, link, _ = rounds(api, DELTA)
    stranger = emu.client(B).get(link)
    assert stranger.status_code == 410 and code(stranger) == "SyncStateNotFound"


@pytest.mark.parametrize("extra", ["$select=subject", "$filter=subject eq 'x'", "$orderby=start/dateTime",
                                   "$expand=attachments", "$search=x"])
def test_delta_refuses_query_options_it_does_not_support(api: httpx.Client, extra: str) -> None:
    reply = api.get(DELTA + "&" + extra)
    assert reply.status_code == 400 and "not supported" in reply.json()["error"]["message"]


def test_delta_needs_a_window_on_its_first_call(api: httpx.Client) -> None:
    reply = api.get("/me/calendarView/delta?startDateTime=2027-03-01T00:00:00Z")
    assert reply.status_code == 400 and code(reply) == "ErrorInvalidParameter"


def test_delta_can_add_out_of_range_removals_and_replayed_items(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    outside = create(api, start=when("2027-09-01T10:00:00"), end=when("2027-09-01T11:00:00"))
    inside = march(api, 1)
    _, link, _ = rounds(api, DELTA)
    emu.post("/delta", {"out_of_range_removals": True, "duplicate_items": True})
    api.patch(f"/me/events/{outside['id']}", json={"subject": "far away"})
    api.patch(f"/me/events/{inside['id']}", json={"subject": "near"})
    changes, _, _ = rounds(api, link)
    assert [c["id"] for c in changes].count(inside["id"]) == 2
    assert {"@odata.type": "#microsoft.graph.event", "id": outside["id"], "@removed": {"reason": "deleted"}} in changes


def test_delta_over_another_calendar_sees_only_that_calendar(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    work = emu.add_calendar(A, "Work")
    march(api, 1)
    mine = create(api, f"/me/calendars/{work}/events", start=when("2027-03-02T10:00:00"),
                  end=when("2027-03-02T11:00:00"))
    items, link, _ = rounds(api, DELTA.replace("/me/calendarView", f"/me/calendars/{work}/calendarView"))
    assert [i["id"] for i in items] == [mine["id"]] and f"/calendars/{work}/calendarView/delta" in link


# $batch --------------------------------------------------------------------------------------------
def batch(api: httpx.Client, requests: list[dict[str, Any]]) -> httpx.Response:
    return api.post("/$batch", json={"requests": requests})


def test_batch_answers_each_request_by_id_with_its_own_status(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    stale = march(api, 1)
    api.patch(f"/me/events/{stale['id']}", json={"subject": "newer"})
    json_type = {"Content-Type": "application/json"}
    reply = batch(api, [
        {"id": "1", "method": "POST", "url": "/me/events", "headers": json_type,
         "body": {"subject": "from batch", "start": when("2027-03-05T10:00:00"), "end": when("2027-03-05T11:00:00")}},
        {"id": "2", "method": "GET", "url": "/me/events/AAMkAGnothing"},
        {"id": "3", "method": "PATCH", "url": f"/me/events/{stale['id']}",
         "headers": {**json_type, "If-Match": stale["@odata.etag"]}, "body": {"subject": "lost update"}},
        {"id": "4", "method": "GET", "url": "/me/calendars?$top=5"},
    ])
    assert reply.status_code == 200
    answers = {r["id"]: r for r in reply.json()["responses"]}
    assert {k: v["status"] for k, v in answers.items()} == {"1": 201, "2": 404, "3": 412, "4": 200}
    assert answers["1"]["body"]["subject"] == "from batch"
    assert answers["3"]["body"]["error"]["code"] == "ErrorIrresolvableConflict"
    log = emu.requests()[-1]
    assert log["path"] == "/v1.0/$batch" and [(p["id"], p["method"], p["path"], p["status"]) for p in log["parts"]] == [
        ("1", "POST", "/v1.0/me/events", 201), ("2", "GET", "/v1.0/me/events/AAMkAGnothing", 404),
        ("3", "PATCH", f"/v1.0/me/events/{stale['id']}", 412), ("4", "GET", "/v1.0/me/calendars", 200)]
    assert log["parts"][3]["query"] == {"$top": ["5"]}


def test_batch_answers_come_in_their_own_order(api: httpx.Client) -> None:
    reply = batch(api, [{"id": str(i), "method": "GET", "url": "/me/calendars"} for i in range(20)])
    ids = [r["id"] for r in reply.json()["responses"]]
    assert sorted(ids, key=int) == [str(i) for i in range(20)] and ids != sorted(ids, key=int)


def test_batch_refuses_more_than_20_requests_and_writes_without_a_content_type(api: httpx.Client) -> None:
    many = batch(api, [{"id": str(i), "method": "GET", "url": "/me/calendars"} for i in range(21)])
    assert many.status_code == 400 and "maximum of 20" in many.json()["error"]["message"]
    untyped = batch(api, [{"id": "1", "method": "POST", "url": "/me/events", "body": {"subject": "x"}}])
    assert untyped.status_code == 400
    assert untyped.json()["error"]["message"] == "Write request id : 1 does not contain Content-Type header or body."
    absolute = batch(api, [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me/events"}])
    assert absolute.status_code == 400
    assert api.post("/$batch", content=b"nope", headers={"Content-Type": "application/json"}).status_code == 400


def test_each_batch_request_is_throttled_on_its_own_with_retry_after(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    emu.post("/throttle", {"requests_per_ten_minutes": 3})
    reply = batch(api, [{"id": str(i), "method": "GET", "url": "/me/calendars"} for i in range(5)])
    assert reply.status_code == 200
    statuses = sorted((r["status"], r["headers"].get("Retry-After")) for r in reply.json()["responses"])
    assert [s for s, _ in statuses] == [200, 200, 200, 429, 429]
    assert all(int(wait) > 0 for s, wait in statuses if s == 429)
    throttled = [r for r in reply.json()["responses"] if r["status"] == 429]
    assert throttled[0]["body"]["error"]["code"] == "ApplicationThrottled"


def test_depends_on_orders_requests_and_a_failed_dependency_answers_424(api: httpx.Client) -> None:
    json_type = {"Content-Type": "application/json"}
    body = {"subject": "x", "start": when("2027-03-05T10:00:00"), "end": when("2027-03-05T11:00:00")}
    reply = batch(api, [
        {"id": "b", "method": "GET", "url": "/me/events", "dependsOn": ["a"]},
        {"id": "a", "method": "POST", "url": "/me/events", "headers": json_type, "body": body},
        {"id": "c", "method": "GET", "url": "/me/events/AAMkAGmissing"},
        {"id": "d", "method": "DELETE", "url": "/me/events/AAMkAGmissing2", "dependsOn": ["c"]},
    ])
    answers = {r["id"]: r for r in reply.json()["responses"]}
    assert [e["subject"] for e in answers["b"]["body"]["value"]] == ["x"]    # ran after a
    assert answers["c"]["status"] == 404 and answers["d"]["status"] == 424


# throttling and faults -----------------------------------------------------------------------------
def test_the_mailbox_request_window_answers_429_with_retry_after(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    emu.post("/throttle", {"requests_per_ten_minutes": 5})
    assert [api.get("/me/calendars").status_code for _ in range(5)] == [200] * 5
    over = api.get("/me/calendars")
    assert over.status_code == 429 and code(over) == "ApplicationThrottled"
    assert 0 < int(over.headers["retry-after"]) <= 600
    assert emu.client(B).get("/me/calendars").status_code == 200     # per mailbox
    emu.post("/clock", {"advance_seconds": 601})
    assert api.get("/me/calendars").status_code == 200


def test_more_than_four_requests_at_once_answer_429_mailbox_concurrency(emu: MicrosoftEmulator) -> None:
    emu.post("/throttle", {"latency_ms": 1500})
    token = emu.token(A)
    start = threading.Barrier(6)

    def one(_: int) -> httpx.Response:
        start.wait()
        return httpx.get(emu.base + "/v1.0/me/calendars", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(one, range(6)))
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 200, 429, 429]
    refused = [r for r in replies if r.status_code == 429]
    assert refused[0].json()["error"]["message"] == "Application is over its MailboxConcurrency limit."
    assert refused[0].headers["retry-after"]


def test_faults_fail_the_next_matching_requests(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    event = march(api, 1)
    emu.post("/faults", {"status": 503, "count": 2, "methods": ["PATCH"], "path": "/me/events/", "retry_after": 7})
    assert api.get(f"/me/events/{event['id']}").status_code == 200
    for _ in range(2):
        failed = api.patch(f"/me/events/{event['id']}", json={"subject": "x"})
        assert failed.status_code == 503 and failed.headers["retry-after"] == "7"
        assert code(failed) == "ServiceUnavailable"
    assert api.patch(f"/me/events/{event['id']}", json={"subject": "x"}).status_code == 200
    emu.post("/faults", {"status": 500, "count": 5, "code": "generalException"})
    emu.control.delete("/faults")
    assert api.get("/me/events").status_code == 200
    assert emu.control.post("/faults", json={"status": 200}).status_code == 400


# the real SDK --------------------------------------------------------------------------------------
def test_the_msgraph_sdk_creates_reads_and_follows_delta_links_against_the_emulator(emu: MicrosoftEmulator) -> None:
    """Microsoft's own Python client (Kiota) talks to the emulator unchanged: typed models in and out."""
    import asyncio

    from kiota_abstractions.authentication import (AccessTokenProvider, AllowedHostsValidator,
                                                   BaseBearerTokenAuthenticationProvider)
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.sensitivity import Sensitivity
    from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

    class Token(AccessTokenProvider):
        async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
            return emu.token(A)

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator([])

    async def scenario() -> None:
        adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(Token()))
        adapter.base_url = emu.base + "/v1.0"
        me = GraphServiceClient(request_adapter=adapter).users.by_user_id(A)
        made = await me.events.post(Event(
            subject="from the SDK", sensitivity=Sensitivity.Private, transaction_id="sdk-1",
            start=DateTimeTimeZone(date_time="2027-03-02T10:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2027-03-02T11:00:00", time_zone="UTC")))
        assert made is not None and made.id and made.transaction_id == "sdk-1"
        got = await me.events.by_event_id(made.id).get()
        assert got is not None and got.sensitivity == Sensitivity.Private and got.change_key == made.change_key
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time="2027-02-28T00:00:00Z", end_date_time="2027-04-30T00:00:00Z")
        config = RequestConfiguration(query_parameters=query)
        page = await me.calendar_view.delta.get(request_configuration=config)
        assert page is not None and [e.subject for e in page.value or []] == ["from the SDK"]
        assert page.odata_delta_link and "$deltatoken=" in page.odata_delta_link
        await me.events.by_event_id(made.id).delete()
        later = await me.calendar_view.delta.with_url(page.odata_delta_link).get()
        assert later is not None and [(e.id, e.additional_data.get("@removed")) for e in later.value or []] == [
            (made.id, {"reason": "deleted"})]

    asyncio.run(scenario())
