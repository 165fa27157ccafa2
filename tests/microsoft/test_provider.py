"""The Microsoft provider against the Graph emulator: what the contract suite does not show
(tests/contract runs it too): zones, all-day floating dates, our extended property and
transactionId, removals that only left the window, 410/SyncStateNotFound, the window re-baseline,
412 read again, and `$batch` with per-request 429s and at most 4 requests at a time."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import quote

import pytest

from calsync.providers.microsoft import wire
from calsync.sync.model import Event
from calsync.sync.provider import CursorExpired, EventNotFound, PreconditionFailed, Window, Write
from tests.support.harness import MicrosoftHarness
from tests.support.microsoft_emulator import MicrosoftEmulator

UTC = dt.timezone.utc


def hour(days: int, hours: int = 10) -> dt.datetime:
    today = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=days, hours=hours)


def window(days: int = 365) -> Window:
    now = dt.datetime.now(UTC)
    return Window(now - dt.timedelta(days=1), now + dt.timedelta(days=days))


def crm_event(side: MicrosoftHarness, summary: str = "Call Ada", **changes: object) -> Event:
    values: dict[str, object] = dict(calendar_id=side.calendar_id, activity_uuid=str(uuid.uuid4()), summary=summary,
                                     start=hour(2), end=hour(2, 11), timezone="Europe/Berlin")
    values.update(changes)
    return Event(**values)  # type: ignore[arg-type]


def listing(side: MicrosoftHarness, cursor: str | None, w: Window | None = None) -> tuple[list[Event], list, str]:
    events, removed, page = [], [], None
    while True:
        changes = side.provider.list_changes(side.calendar_id, cursor, w or window(), page)
        events += changes.events
        removed += changes.deleted
        if changes.next_page is None:
            assert changes.cursor
            return events, removed, changes.cursor
        page = changes.next_page


def seq(emu: MicrosoftEmulator) -> int:
    log = emu.requests()
    return int(log[-1]["seq"]) if log else 0


def test_times_are_read_in_utc_with_the_events_own_zone_from_a_windows_name(outlook: MicrosoftHarness) -> None:
    created = outlook.api.post(f"/me/calendars/{quote(outlook.calendar_id, safe='')}/events", json={
        "subject": "Tokyo call", "start": {"dateTime": "2027-03-01T09:00:00", "timeZone": "Tokyo Standard Time"},
        "end": {"dateTime": "2027-03-01T10:00:00", "timeZone": "Tokyo Standard Time"}}).json()
    [event] = outlook.provider.get_event(outlook.calendar_id, created["id"])
    assert event.timezone == "Asia/Tokyo"
    assert event.start == dt.datetime(2027, 3, 1, 0, tzinfo=UTC)


def test_written_times_keep_the_events_zone(outlook: MicrosoftHarness) -> None:
    created = outlook.provider.create_event(crm_event(outlook, timezone="America/New_York"), send_invitations=False)
    raw = outlook.api.get(f"/me/events/{quote(created.event_id, safe='')}",
                          headers={"Prefer": 'IdType="ImmutableId"'}).json()
    assert raw["originalStartTimeZone"] == "Eastern Standard Time"
    assert (created.timezone, created.start) == ("America/New_York", hour(2))


def test_all_day_events_float_midnight_dates_in_every_reader_zone(outlook: MicrosoftHarness) -> None:
    day = (dt.datetime.now(UTC) + dt.timedelta(days=10)).date()
    event = crm_event(outlook, all_day=True, start=None, end=None, timezone=None, start_date=day,
                      end_date=day + dt.timedelta(days=1))
    created = outlook.provider.create_event(event, send_invitations=False)
    for zone in ("Pacific/Auckland", "America/Los_Angeles"):
        raw = outlook.api.get(f"/me/events/{quote(created.event_id, safe='')}",
                              headers={"Prefer": f'outlook.timezone="{zone}", IdType="ImmutableId"'}).json()
        assert raw["isAllDay"] is True
        assert raw["start"]["dateTime"] == f"{day.isoformat()}T00:00:00.0000000"
    assert (created.start_date, created.end_date) == (day, day + dt.timedelta(days=1))


def test_show_as_and_sensitivity_set_in_outlook_survive_our_update(outlook: MicrosoftHarness) -> None:
    event_id = outlook._ok(outlook.api.post(f"/me/calendars/{quote(outlook.calendar_id, safe='')}/events", json={
        "subject": "Away", "start": outlook._when(hour(3)), "end": outlook._when(hour(3, 11)),
        "showAs": "oof", "sensitivity": "personal"}))["id"]
    [event] = outlook.provider.get_event(outlook.calendar_id, event_id)
    assert (event.busy, event.privacy) == (True, "private")
    outlook.provider.update_event(replace(event, summary="Away (moved)"), event.etag, send_invitations=False)
    raw = outlook.api.get(f"/me/events/{quote(event_id, safe='')}").json()
    assert (raw["subject"], raw["showAs"], raw["sensitivity"]) == ("Away (moved)", "oof", "personal")


def test_our_id_is_an_extended_property_found_with_a_filter_and_a_retried_create_makes_no_duplicate(
        outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    event = crm_event(outlook)
    first = outlook.provider.create_event(event, send_invitations=False)
    again = outlook.provider.create_event(event, send_invitations=False)  # a retry after a lost answer
    assert again.event_id == first.event_id
    events, _, _ = listing(outlook, None)
    assert [e.summary for e in events] == ["Call Ada"]
    assert events[0].activity_uuid == event.activity_uuid
    expand = f"singleValueExtendedProperties($filter=id eq '{wire.PROPERTY_ID}')"
    raw = outlook.api.get(f"/me/events/{quote(first.event_id, safe='')}", params={"$expand": expand}).json()
    assert raw["singleValueExtendedProperties"][0]["value"] == event.activity_uuid
    assert raw["transactionId"] == f"calsync-{event.activity_uuid}"
    before = seq(emu)
    found = outlook.provider.find_by_activity_id(outlook.calendar_id, event.activity_uuid or "")
    assert found is not None and found.event_id == first.event_id
    [lookup] = emu.requests(before)
    assert "singleValueExtendedProperties/Any" in lookup["query"]["$filter"][0]


def test_an_event_moved_out_of_the_window_is_not_a_deletion_even_when_graph_says_deleted(
        outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    emu.post("/delta", {"left_window_reason": "deleted"})  # Graph sends this too
    moved = outlook.put_single("moved away", hour(2), hour(2, 11))
    gone = outlook.put_single("gone", hour(3), hour(3, 11))
    _, _, cursor = listing(outlook, None)
    outlook._ok(outlook.api.patch(f"/me/events/{quote(moved, safe='')}",
                                  json={"start": outlook._when(hour(500)), "end": outlook._when(hour(500, 11))}))
    outlook.delete(gone)
    _, removed, _ = listing(outlook, cursor)
    assert {(r.event_id, r.reason) for r in removed} == {(moved, "left_window"), (gone, "deleted")}


@pytest.mark.parametrize("status, code", [(410, "SyncStateNotFound"), (400, "syncStateNotFound"), (410, "resyncRequired")])
def test_sync_state_not_found_in_any_case_asks_for_a_full_listing(outlook: MicrosoftHarness, emu: MicrosoftEmulator,
                                                                   status: int, code: str) -> None:
    _, _, cursor = listing(outlook, None)
    emu.post("/faults", {"status": status, "code": code, "path": "delta"})
    with pytest.raises(CursorExpired):
        outlook.provider.list_changes(outlook.calendar_id, cursor, window())


def test_the_delta_window_is_baselined_again_before_it_runs_short(outlook: MicrosoftHarness) -> None:
    outlook.put_single("soon", hour(2), hour(2, 11))
    _, _, cursor = listing(outlook, None, window(40))
    events, removed, _ = listing(outlook, cursor, window(60))  # 20 days short: still fine
    assert (events, removed) == ([], [])
    with pytest.raises(CursorExpired):  # 325 days short: a full listing re-baselines it
        outlook.provider.list_changes(outlook.calendar_id, cursor, window(365))
    again, _, _ = listing(outlook, None, window(365))
    assert [e.summary for e in again] == ["soon"]


def test_a_412_reads_again_and_tells_an_edit_from_a_deletion(outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    created = outlook.provider.create_event(crm_event(outlook), send_invitations=False)
    emu.post("/faults", {"status": 412, "methods": ["PATCH"], "code": "ErrorIrresolvableConflict"})
    with pytest.raises(PreconditionFailed):  # still there: changed, decide again
        outlook.provider.update_event(replace(created, summary="ours"), created.etag, send_invitations=False)
    outlook.delete(created.event_id)
    emu.post("/faults", {"status": 412, "methods": ["PATCH", "DELETE"], "count": 2, "code": "ErrorIrresolvableConflict"})
    with pytest.raises(EventNotFound):  # read again: deleted meanwhile
        outlook.provider.update_event(replace(created, summary="ours"), created.etag, send_invitations=False)
    outlook.provider.delete_event(outlook.calendar_id, created.event_id, created.etag)  # gone already: fine


def test_batched_writes_go_20_per_request_and_inner_429s_wait_their_retry_after(
        outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    waits: list[float] = []
    outlook.provider.http.sleep = waits.append  # type: ignore[attr-defined]
    emu.post("/faults", {"status": 429, "count": 3, "methods": ["POST"], "path": "events$", "retry_after": 3})
    before = seq(emu)
    writes = [Write("create", crm_event(outlook, f"Call {n}")) for n in range(45)]
    outcomes = outlook.provider.write_many(writes)
    assert [o.error for o in outcomes] == [None] * 45
    assert sorted(o.event.summary for o in outcomes if o.event) == sorted(f"Call {n}" for n in range(45))
    batches = [r for r in emu.requests(before) if r["path"].endswith("$batch")]
    assert sorted(len(r["parts"]) for r in batches[:3]) == [5, 20, 20]  # sent side by side: any order
    assert [len(r["parts"]) for r in batches[3:]] == [3]  # the three throttled ones, once more
    assert waits == [3.0]
    events, _, _ = listing(outlook, None)
    assert len(events) == 45


def test_no_more_than_four_requests_at_once_per_mailbox(outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    emu.post("/throttle", {"concurrent": 4, "latency_ms": 20})
    before = seq(emu)
    outcomes = outlook.provider.write_many([Write("create", crm_event(outlook, f"Call {n}")) for n in range(200)])
    assert all(o.error is None for o in outcomes)
    log = emu.requests(before)
    assert len(log) == 10
    assert [r["status"] for r in log] == [200] * 10
    assert all(p["status"] == 201 for r in log for p in r["parts"])


def test_one_mailbox_never_has_more_than_four_requests_in_flight_whichever_threads_send_them(
        outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    """Graph's MailboxConcurrency limit is kept by the mailbox's HTTP layer itself, not only by the
    batch writer's pool: eight threads sending at once are let through four at a time, so Graph
    answers none of them 429."""
    emu.post("/throttle", {"concurrent": 4, "latency_ms": 50})
    http = outlook.provider.http
    waits: list[float] = []
    http.sleep = waits.append  # type: ignore[method-assign]
    before = seq(emu)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: http.send("GET", "/v1.0/me/calendars").status_code, range(16)))
    assert statuses == [200] * 16
    assert [r["status"] for r in emu.requests(before)] == [200] * 16
    assert waits == []


def test_removed_items_are_looked_up_20_to_a_batch_request(outlook: MicrosoftHarness, emu: MicrosoftEmulator) -> None:
    ids = [outlook.put_single(f"gone {n}", hour(2, 0) + dt.timedelta(minutes=10 * n), hour(2, 1) + dt.timedelta(minutes=10 * n))
           for n in range(30)]
    _, _, cursor = listing(outlook, None)
    for event_id in ids:
        outlook.delete(event_id)
    before = seq(emu)
    _, removed, _ = listing(outlook, cursor)
    assert sorted(r.event_id for r in removed if r.reason == "deleted") == sorted(ids)
    log = emu.requests(before)
    assert [r["path"].rsplit("/", 1)[-1] for r in log] == ["delta", "$batch", "$batch"]
