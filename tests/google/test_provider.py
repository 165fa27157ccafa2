"""What the Google provider does beyond the shared contract, checked on the emulator through
its request log: tokens (refresh before expiry, 401 → one refresh, rotation, revocation),
back-off on rate limits and 5xx, the wire format of writes (client-chosen id, If-Match,
sendUpdates, our id in extendedProperties.private, all-day dates) and re-creating a deleted id."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from calsync.providers.google import wire
from calsync.providers.google.provider import GoogleProvider
from calsync.sync.model import Event, EventAttendee
from calsync.sync.provider import AlreadyExists, AuthError, RateLimited, Window
from tests.support.google_emulator import USERS, GoogleEmulator

UTC = dt.timezone.utc


def soon(hours: int) -> dt.datetime:
    return dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=hours)


def window() -> Window:
    now = dt.datetime.now(UTC)
    return Window(now, now + dt.timedelta(days=365))


@pytest.fixture
def side(emu: GoogleEmulator) -> Iterator[tuple[GoogleProvider, str, dict[str, Any]]]:
    calendar = emu.add_calendar(USERS[0], f"t-{uuid.uuid4().hex[:6]}")
    credentials = emu.connect(USERS[0])
    provider = emu.open(credentials)
    provider.http.sleep = lambda seconds: None  # back-off without waiting
    yield provider, calendar, credentials
    provider.close()
    emu.control.delete("/faults")


def event(calendar: str, **changes: Any) -> Event:
    values: dict[str, Any] = dict(calendar_id=calendar, activity_uuid=str(uuid.uuid4()), summary="Call Ada",
                                  start=soon(30), end=soon(31), timezone="Europe/Berlin")
    values.update(changes)
    return Event(**values)


def api_calls(emu: GoogleEmulator, since: int) -> list[dict[str, Any]]:
    return [r for r in emu.requests(since)]


def last_seq(emu: GoogleEmulator) -> int:
    log = emu.requests()
    return int(log[-1]["seq"]) if log else 0


def test_create_uses_the_id_derived_from_the_activity_and_sends_no_mail(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    mark = last_seq(emu)
    ours = event(calendar, attendees=[EventAttendee("carol@example.com", "Carol")])
    created = provider.create_event(ours, send_invitations=False)
    [call] = api_calls(emu, mark)
    assert call["method"] == "POST" and call["query"]["sendUpdates"] == ["none"]
    assert call["body"]["id"] == wire.event_id_for(ours.activity_uuid or "") == created.event_id
    assert len(created.event_id) == 26 and set(created.event_id) <= set("0123456789abcdefghijklmnopqrstuv")
    assert call["body"]["extendedProperties"] == {"private": {wire.ACTIVITY_KEY: ours.activity_uuid}}
    assert call["body"]["start"] == {"dateTime": ours.start.astimezone(  # type: ignore[union-attr]
        __import__("zoneinfo").ZoneInfo("Europe/Berlin")).isoformat(), "timeZone": "Europe/Berlin"}
    assert created.timezone == "Europe/Berlin" and created.start == ours.start
    assert [(a.email, a.name) for a in created.attendees] == [("carol@example.com", "Carol")]
    provider.update_event(created, created.etag, send_invitations=True)
    [update] = api_calls(emu, mark + 1)
    assert update["method"] == "PATCH" and update["query"]["sendUpdates"] == ["all"]
    assert update["headers"].get("if-match") == created.etag


def test_all_day_is_dates_with_exclusive_end_and_can_become_timed(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    day = (dt.datetime.now(UTC) + dt.timedelta(days=5)).date()
    mark = last_seq(emu)
    created = provider.create_event(event(calendar, all_day=True, start=None, end=None, timezone=None,
                                          start_date=day, end_date=day + dt.timedelta(days=1)), send_invitations=False)
    [call] = api_calls(emu, mark)
    assert call["body"]["start"] == {"date": day.isoformat()} and call["body"]["end"] == {
        "date": (day + dt.timedelta(days=1)).isoformat()}
    timed = provider.update_event(Event(**{**created.__dict__, "all_day": False, "start_date": None,
                                           "end_date": None, "start": soon(40), "end": soon(41), "timezone": "UTC"}),
                                  created.etag, send_invitations=False)
    assert not timed.all_day and timed.start == soon(40)


def test_a_deleted_id_stays_taken_and_undelete_brings_the_event_back(emu: GoogleEmulator, side: Any) -> None:
    from calsync.sync.provider import EventNotFound

    provider, calendar, _ = side
    ours = event(calendar)
    with pytest.raises(EventNotFound):
        provider.undelete_event(ours, send_invitations=False)  # nothing deleted to bring back
    created = provider.create_event(ours, send_invitations=False)
    with pytest.raises(AlreadyExists):
        provider.create_event(ours, send_invitations=False)
    with pytest.raises(AlreadyExists):
        provider.undelete_event(ours, send_invitations=False)  # live: nothing to undelete
    provider.delete_event(calendar, created.event_id, created.etag)
    assert provider.get_event(calendar, created.event_id) == []
    assert provider.find_by_activity_id(calendar, ours.activity_uuid or "") is None
    with pytest.raises(AlreadyExists):  # Google keeps the deleted id taken
        provider.create_event(ours, send_invitations=False)
    mark = last_seq(emu)
    again = provider.undelete_event(Event(**{**ours.__dict__, "summary": "Call Ada again"}), send_invitations=False)
    assert again.event_id == created.event_id
    get, patch = api_calls(emu, mark)
    assert (get["method"], patch["method"]) == ("GET", "PATCH") and patch["body"]["status"] == "confirmed"
    assert patch["headers"].get("if-match") and patch["query"]["sendUpdates"] == ["none"]
    [listed] = provider.get_event(calendar, created.event_id)
    assert listed.summary == "Call Ada again" and listed.activity_uuid == ours.activity_uuid
    found = provider.find_by_activity_id(calendar, ours.activity_uuid or "")
    assert found is not None and found.event_id == created.event_id


def test_an_update_never_revives_an_event_deleted_in_the_calendar(emu: GoogleEmulator, side: Any) -> None:
    from calsync.sync.provider import EventNotFound

    provider, calendar, _ = side
    created = provider.create_event(event(calendar), send_invitations=False)
    emu.client(USERS[0]).delete(f"/calendars/{calendar}/events/{created.event_id}")
    with pytest.raises(EventNotFound):
        provider.update_event(Event(**{**created.__dict__, "summary": "late edit"}), created.etag, send_invitations=False)
    assert provider.get_event(calendar, created.event_id) == []


def test_an_expired_access_token_is_refreshed_once_and_the_call_repeated(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    before = provider.credentials["access_token"]
    emu.post("/expire-access-tokens")
    mark = last_seq(emu)
    assert provider.list_changes(calendar, None, window()).full
    assert [c["status"] for c in api_calls(emu, mark)] == [401, 200]
    assert provider.http.tokens.refreshes == 1 and provider.credentials["access_token"] != before


def test_a_token_about_to_expire_is_refreshed_before_the_call(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    provider.credentials["expires_at"] = (dt.datetime.now(UTC) + dt.timedelta(seconds=30)).isoformat()
    mark = last_seq(emu)
    provider.list_changes(calendar, None, window())
    assert [c["status"] for c in api_calls(emu, mark)] == [200]
    assert provider.http.tokens.refreshes == 1


def test_rotated_refresh_tokens_are_handed_to_the_owner(emu: GoogleEmulator) -> None:
    emu.post("/oauth", {"rotate_refresh_tokens": True})
    try:
        credentials = emu.connect(USERS[0])
        first_refresh = credentials["refresh_token"]
        stored: list[dict[str, Any]] = []
        from calsync.providers.google.factory import GoogleFactory

        provider = GoogleFactory(emu.settings).open(credentials, on_update=stored.append)
        emu.post("/expire-access-tokens")
        provider.list_calendars()
        assert len(stored) == 1 and stored[0]["refresh_token"] != first_refresh
        assert provider.credentials["refresh_token"] == stored[0]["refresh_token"]
        provider.close()
    finally:
        emu.post("/oauth", {"rotate_refresh_tokens": False})


def test_a_revoked_grant_is_an_auth_error_that_says_reconnect(emu: GoogleEmulator) -> None:
    emu.add_calendar(USERS[1], "B's")
    credentials = emu.connect(USERS[1])
    provider = emu.open(credentials)
    emu.post("/revoke", {"user": USERS[1]})
    with pytest.raises(AuthError, match="reconnect Google Calendar"):
        provider.list_calendars()
    provider.close()


def test_a_grant_without_calendar_scopes_is_an_auth_error_that_says_allow_calendars(emu: GoogleEmulator,
                                                                                    side: Any) -> None:
    """403 insufficientPermissions (the user unticked the calendar box on the consent page) is not
    retried and not handed back: the user must reconnect and allow access to the calendars."""
    provider, calendar, _ = side
    emu.post("/faults", {"status": 403, "count": 1, "reason": "insufficientPermissions"})
    mark = last_seq(emu)
    with pytest.raises(AuthError, match="allow access to your calendars"):
        provider.list_changes(calendar, None, window())
    assert [c["status"] for c in api_calls(emu, mark)] == [403]


@pytest.mark.parametrize("status,reason", [(403, "rateLimitExceeded"), (403, "userRateLimitExceeded"), (429, None),
                                           (503, None)])
def test_rate_limits_and_server_errors_are_retried(emu: GoogleEmulator, side: Any, status: int,
                                                    reason: str | None) -> None:
    provider, calendar, _ = side
    waits: list[float] = []
    provider.http.sleep = waits.append
    emu.post("/faults", {"status": status, "count": 2, "retry_after": 2,
                         **({"reason": reason} if reason else {})})
    mark = last_seq(emu)
    assert provider.list_changes(calendar, None, window()).full
    assert [c["status"] for c in api_calls(emu, mark)] == [status, status, 200]
    assert waits == [2.0, 2.0]


def test_a_lasting_rate_limit_is_rate_limited_with_retry_after(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    emu.post("/faults", {"status": 429, "count": 10, "retry_after": 120})
    with pytest.raises(RateLimited) as caught:
        provider.list_changes(calendar, None, window())
    assert caught.value.retry_after == 120


def test_calendars_say_which_are_writable(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    shared = emu.add_calendar(USERS[0], "Holidays", access_role="reader")
    calendars = {c.id: c for c in provider.list_calendars()}
    assert calendars[USERS[0]].primary and calendars[USERS[0]].writable
    assert calendars[calendar].writable and not calendars[shared].writable


def test_write_many_sends_one_batch_and_reports_each_item(emu: GoogleEmulator, side: Any) -> None:
    from calsync.sync.provider import EventNotFound, PreconditionFailed, Write

    provider, calendar, _ = side
    old = provider.create_event(event(calendar, summary="old"), send_invitations=False)
    stale = provider.create_event(event(calendar, summary="stale"), send_invitations=False)
    provider.update_event(Event(**{**stale.__dict__, "summary": "stale v2"}), stale.etag, send_invitations=False)
    doomed = provider.create_event(event(calendar, summary="doomed"), send_invitations=False)
    fresh = [event(calendar, summary=f"new {n}") for n in range(60)]
    writes = [Write("create", e) for e in fresh]
    writes += [Write("create", event(calendar, summary="again", activity_uuid=old.activity_uuid)),
               Write("update", Event(**{**old.__dict__, "summary": "old v2"}), etag=old.etag),
               Write("update", Event(**{**stale.__dict__, "summary": "lost"}), etag=stale.etag),
               Write("delete", calendar_id=calendar, event_id=doomed.event_id, etag=doomed.etag),
               Write("update", Event(**{**old.__dict__, "event_id": "nosuchevent1", "summary": "x"}), etag='"1"')]
    mark = last_seq(emu)
    outcomes = provider.write_many(writes)
    batches = api_calls(emu, mark)
    assert [(b["method"], b["path"]) for b in batches[:2]] == [("POST", "/batch/calendar/v3")] * 2
    assert [len(b["parts"]) for b in batches[:2]] == [50, 15]
    assert all(p["query"].get("sendUpdates") == ["none"] for b in batches[:2] for p in b["parts"])
    assert [o.event.summary for o in outcomes[:60]] == [f"new {n}" for n in range(60)]  # type: ignore[union-attr]
    again, updated, lost, deleted, missing = outcomes[60:]
    assert isinstance(again.error, AlreadyExists)
    assert updated.event is not None and updated.event.summary == "old v2" and updated.event.etag != old.etag
    assert isinstance(lost.error, PreconditionFailed)
    assert deleted.error is None and provider.get_event(calendar, doomed.event_id) == []
    assert isinstance(missing.error, EventNotFound)


def test_write_many_sends_throttled_parts_again(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    from calsync.sync.provider import Write

    emu.post("/faults", {"status": 429, "count": 2, "methods": ["POST"], "path": "/events$"})
    mark = last_seq(emu)
    outcomes = provider.write_many([Write("create", event(calendar, summary=f"n{n}")) for n in range(4)])
    assert [o.error for o in outcomes] == [None] * 4
    batches = api_calls(emu, mark)
    assert [[p["status"] for p in b["parts"]] for b in batches] == [[429, 429, 200, 200], [200, 200]]


def test_prefetch_reads_many_events_in_one_batch(emu: GoogleEmulator, side: Any) -> None:
    provider, calendar, _ = side
    created = [provider.create_event(event(calendar, summary=f"e{n}"), send_invitations=False) for n in range(60)]
    mark = last_seq(emu)
    provider.prefetch(calendar, [e.event_id for e in created] + ["nosuchevent1"])
    [batch] = api_calls(emu, mark)
    assert batch["path"] == "/batch/calendar/v3" and len(batch["parts"]) == 61
    assert [provider.get_event(calendar, e.event_id)[0].summary for e in created] == [f"e{n}" for n in range(60)]
    assert len(api_calls(emu, mark)) == 1  # served from the prefetch
    assert provider.get_event(calendar, created[0].event_id)[0].summary == "e0"  # read again: one GET
    assert len(api_calls(emu, mark)) == 2
