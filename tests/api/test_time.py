"""Time: all-day items stay on their date in every zone, wall times survive DST, instants round-trip."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import ok

HONOLULU = "Pacific/Honolulu"  # UTC-10
TONGA = "Pacific/Tongatapu"  # UTC+13


def _subjects(client, start: str, end: str, **params: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [a["subject"] for a in ok(client.get("/api/v1/calendar", start=start, end=end, **params))]


def test_all_day_items_stay_on_their_date_far_west_and_far_east(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("west@acme.test", timezone=HONOLULU)
    people.add("east@acme.test", timezone=TONGA)
    west, east = as_user("west@acme.test"), as_user("east@acme.test")
    made = west.activity(subject="Holiday", all_day=True, start="2026-03-10", end="2026-03-11")
    assert (made["start"], made["end"], made["timezone"]) == ("2026-03-10", "2026-03-11", None)
    east.activity(subject="Offsite", all_day=True, start="2026-03-12", end="2026-03-14")
    # An instant late on 10 March in UTC: 10 March in Honolulu, already 11 March in Tonga.
    west.activity(subject="Late call", start="2026-03-10T23:30:00Z", end="2026-03-11T00:00:00Z", timezone="UTC")

    for viewer in (west, east):
        fetched = ok(viewer.get(f"/api/v1/activities/{made['id']}"))
        assert (fetched["start"], fetched["end"]) == ("2026-03-10", "2026-03-11")
        assert "Holiday" in _subjects(viewer, "2026-03-10", "2026-03-11")
        assert "Holiday" not in _subjects(viewer, "2026-03-09", "2026-03-10")
        assert "Holiday" not in _subjects(viewer, "2026-03-11", "2026-03-12")
        assert "Offsite" not in _subjects(viewer, "2026-03-11", "2026-03-12")
        assert "Offsite" in _subjects(viewer, "2026-03-13", "2026-03-14")
        assert "Offsite" not in _subjects(viewer, "2026-03-14", "2026-03-15")
        listed = ok(viewer.get("/api/v1/activities", owner_id="everyone", start_date="2026-03-10", end_date="2026-03-11"))
        assert "Holiday" in [a["subject"] for a in listed]

    assert _subjects(west, "2026-03-10", "2026-03-11") == ["Holiday", "Late call"]
    assert _subjects(east, "2026-03-10", "2026-03-11") == ["Holiday"]
    assert _subjects(east, "2026-03-11", "2026-03-12") == ["Late call"]
    # Ranges given as instants: all-day items are still compared by the viewer's dates.
    assert "Holiday" in _subjects(west, "2026-03-10T00:00:00-10:00", "2026-03-10T01:00:00-10:00")
    assert "Holiday" not in _subjects(west, "2026-03-09T23:00:00-10:00", "2026-03-10T00:00:00-10:00")
    # An explicit zone overrides the viewer's.
    assert _subjects(west, "2026-03-11", "2026-03-12", timezone=TONGA) == ["Late call"]


@pytest.mark.parametrize(
    "zone, before, after, offsets",
    [
        ("Europe/Berlin", "2026-03-28", "2026-03-30", ("+01:00", "+02:00")),  # spring forward 29 March
        ("Europe/Berlin", "2026-10-24", "2026-10-26", ("+02:00", "+01:00")),  # fall back 25 October
        ("America/New_York", "2026-03-07", "2026-03-09", ("-05:00", "-04:00")),  # 8 March
        ("America/New_York", "2026-10-31", "2026-11-02", ("-04:00", "-05:00")),  # 1 November
    ],
)
def test_wall_time_survives_dst_transitions(people, as_user, zone, before, after, offsets) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test", timezone=zone)
    ann = as_user("ann@acme.test")
    first = ann.activity(subject="Standup", start=f"{before}T09:00:00", end=f"{before}T09:30:00")
    assert (first["start"], first["end"]) == (f"{before}T09:00:00{offsets[0]}", f"{before}T09:30:00{offsets[0]}")
    second = ann.activity(subject="Standup", start=f"{after}T09:00:00", end=f"{after}T09:30:00")
    assert second["start"] == f"{after}T09:00:00{offsets[1]}"
    # Moving across the transition by wall time keeps 09:00 local (and the 30 minutes).
    moved = ok(ann.patch(f"/api/v1/activities/{first['id']}", {"start": f"{after}T09:00:00"}))
    assert (moved["start"], moved["end"]) == (f"{after}T09:00:00{offsets[1]}", f"{after}T09:30:00{offsets[1]}")
    instants = {dt.datetime.fromisoformat(a["start"]) for a in (moved, second)}
    assert len(instants) == 1
    # A day view of the later date in the user's zone holds exactly these two.
    day_after = dt.date.fromisoformat(after) + dt.timedelta(days=1)
    assert _subjects(ann, after, day_after.isoformat()) == ["Standup", "Standup"]
    assert _subjects(ann, before, after) == []


def test_timed_instants_round_trip_in_their_zone(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test", timezone="Europe/Berlin")
    ann = as_user("ann@acme.test")
    made = ann.activity(subject="India call", start="2026-06-01T12:00:00Z", end="2026-06-01T12:45:00Z",
                        timezone="Asia/Kolkata")
    assert (made["start"], made["end"], made["timezone"]) == (
        "2026-06-01T17:30:00+05:30", "2026-06-01T18:15:00+05:30", "Asia/Kolkata")
    fetched = ok(ann.get(f"/api/v1/activities/{made['id']}"))
    assert dt.datetime.fromisoformat(fetched["start"]) == dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
    # Sending back what was read changes nothing.
    again = ok(ann.patch(f"/api/v1/activities/{made['id']}", {"start": fetched["start"], "end": fetched["end"]}))
    assert (again["start"], again["end"], again["timezone"]) == (fetched["start"], fetched["end"], "Asia/Kolkata")
    # An offset that differs from the zone is kept as the same instant, shown in the zone.
    other = ann.activity(start="2026-06-01T08:00:00-07:00", end="2026-06-01T09:00:00-07:00", timezone="Asia/Kolkata")
    assert other["start"] == "2026-06-01T20:30:00+05:30"
    # Changing only the zone keeps the instant.
    rezoned = ok(ann.patch(f"/api/v1/activities/{made['id']}", {"timezone": "America/Sao_Paulo"}))
    assert rezoned["start"] == "2026-06-01T09:00:00-03:00"
    assert "India call" in _subjects(ann, "2026-06-01T11:59:00Z", "2026-06-01T12:01:00Z")
    assert "India call" not in _subjects(ann, "2026-06-01T12:45:00Z", "2026-06-01T13:00:00Z")
