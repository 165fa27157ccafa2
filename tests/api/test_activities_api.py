"""Activities over HTTP: create, read, change, trash, restore, list filters and cursor pages."""

from __future__ import annotations

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services.activities import create_activity
from calsync.store.db import session_scope
from calsync.store.tables import User
from tests.api.conftest import ok, refused


def test_create_read_update_delete_restore(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test", timezone="Europe/Berlin")
    ann = as_user("ann@acme.test")
    person = ok(ann.post("/api/v1/persons", {"name": "Pat", "emails": ["pat@client.test"]}), 201)
    deal = ok(ann.post("/api/v1/deals", {"title": "Big deal", "person_id": person["id"]}), 201)
    created = ann.activity(
        subject="Kick-off", type="meeting", start="2026-12-01T09:00:00", end="2026-12-01T10:30:00",
        location="Room 1", public_description="Agenda", note="Ask about budget", deal_id=deal["id"],
        person_id=person["id"], participants=[{"person_id": person["id"], "primary": True}],
        attendees=[{"email": "PAT@client.test", "name": "Pat"}], conference_meeting_url="https://meet.test/x",
    )
    assert created["subject"] == "Kick-off" and created["type"] == "meeting"
    assert created["start"] == "2026-12-01T09:00:00+01:00"  # read in the owner's zone
    assert created["timezone"] == "Europe/Berlin" and created["owner_id"] == ann.id
    assert created["attendees"][0]["email"] == "pat@client.test"
    assert created["attendees"][0]["person_id"] == person["id"]  # matched by e-mail
    assert created["participants"] == [{"person_id": person["id"], "primary": True}]
    assert created["sync"]["status"] == "no_account"
    assert len(created["uuid"]) == 36

    fetched = ok(ann.get(f"/api/v1/activities/{created['id']}"))
    assert fetched == created

    changed = ok(ann.patch(f"/api/v1/activities/{created['id']}", {"subject": "Kick-off v2", "done": True}))
    assert changed["subject"] == "Kick-off v2" and changed["done"] is True
    assert changed["location"] == "Room 1"  # untouched fields stay
    assert changed["updated_at"] >= created["updated_at"]

    put = ok(ann.api.put(f"/api/v1/activities/{created['id']}", json={"busy": False}, headers=ann.headers))
    assert put["busy"] is False and put["subject"] == "Kick-off v2"  # PUT (Pipedrive v1) changes only what is sent
    moved = ok(ann.patch(f"/api/v1/activities/{created['id']}", {"start": "2026-12-02T14:00:00"}))
    assert (moved["start"], moved["end"]) == ("2026-12-02T14:00:00+01:00", "2026-12-02T15:30:00+01:00")  # keeps length

    gone = ok(ann.delete(f"/api/v1/activities/{created['id']}"))
    assert gone["id"] == created["id"] and gone["deleted_at"]
    refused(ann.get(f"/api/v1/activities/{created['id']}"), 404, "no activity")
    trash = ok(ann.get("/api/v1/activities/trash"))
    assert [a["id"] for a in trash] == [created["id"]] and trash[0]["deleted_at"]
    restored = ok(ann.post(f"/api/v1/activities/{created['id']}/restore"))
    assert restored["deleted_at"] is None and restored["subject"] == "Kick-off v2"
    assert ok(ann.get("/api/v1/activities/trash")) == []
    refused(ann.post(f"/api/v1/activities/{created['id']}/restore"), 409, "not in the trash")


def test_switching_between_timed_and_all_day(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    ann = as_user("ann@acme.test")
    item = ann.activity()
    refused(ann.patch(f"/api/v1/activities/{item['id']}", {"all_day": True}), 422, "start")
    day = ok(ann.patch(f"/api/v1/activities/{item['id']}", {"all_day": True, "start": "2026-12-05"}))
    assert (day["all_day"], day["start"], day["end"], day["timezone"]) == (True, "2026-12-05", "2026-12-06", None)
    refused(ann.patch(f"/api/v1/activities/{item['id']}", {"end": "2026-12-05"}), 422, "after the start")
    timed = ok(ann.patch(f"/api/v1/activities/{item['id']}", {"all_day": False, "start": "2026-12-05T08:00:00Z",
                                                              "end": "2026-12-05T08:30:00Z"}))
    assert (timed["start"], timed["end"]) == ("2026-12-05T08:00:00+00:00", "2026-12-05T08:30:00+00:00")


def test_edit_rights_and_read_only_occurrences(people, as_user, context) -> None:  # type: ignore[no-untyped-def]
    people.add("boss@acme.test", admin=True)
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    boss, ann, ben = as_user("boss@acme.test"), as_user("ann@acme.test"), as_user("ben@acme.test")
    item = ann.activity(subject="Ann's call")
    secret = ann.activity(subject="Ann's private", private=True)
    refused(ben.patch(f"/api/v1/activities/{item['id']}", {"subject": "hijack"}), 403, "owner")
    refused(ben.delete(f"/api/v1/activities/{item['id']}"), 403)
    assert ok(boss.patch(f"/api/v1/activities/{item['id']}", {"done": True}))["done"] is True
    refused(boss.patch(f"/api/v1/activities/{secret['id']}", {"subject": "x"}), 403, "private")
    refused(ben.post("/api/v1/activities", {"subject": "for ann", "start": "2026-12-01T10:00:00Z",
                                            "owner_id": ann.id}), 422, "admin")
    given = ok(boss.post("/api/v1/activities", {"subject": "for ann", "start": "2026-12-01T10:00:00Z",
                                                "owner_id": ann.id}), 201)
    assert given["owner_id"] == ann.id

    with session_scope(context.sessions) as session:
        owner = session.get(User, ann.id)
        occurrence = create_activity(
            session, owner, ActivityCreate(subject="Weekly", start="2026-12-03T10:00:00Z", end="2026-12-03T11:00:00Z"),
            source="sync", origin="calendar", read_only=True, series_uid="series-1", occurrence_id="20261203T100000Z",
        )
        occurrence_id = occurrence.id
    shown = ok(ann.get(f"/api/v1/activities/{occurrence_id}"))
    assert shown["read_only"] is True and shown["series_uid"] == "series-1" and shown["origin"] == "calendar"
    refused(ann.patch(f"/api/v1/activities/{occurrence_id}", {"subject": "x"}), 409, "edit it in the calendar")
    refused(ann.delete(f"/api/v1/activities/{occurrence_id}"), 409, "read-only")


def test_list_filters_and_cursor_pages(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    ann, ben = as_user("ann@acme.test"), as_user("ben@acme.test")
    made = []
    for day in range(1, 26):
        made.append(ann.activity(subject=f"A{day}", type="call" if day % 2 else "email", done=day % 5 == 0,
                                 start=f"2026-12-{day:02d}T10:00:00Z", end=f"2026-12-{day:02d}T11:00:00Z"))
    ben_item = ben.activity(subject="B1", start="2026-12-10T12:00:00Z", end="2026-12-10T13:00:00Z")
    long_item = ben.activity(subject="Trade fair", all_day=True, start="2026-11-20", end="2026-12-15")

    everything = ok(ann.get("/api/v1/activities", owner_id="everyone", limit=500))
    assert len(everything) == 27
    # Without owner_id the list is the caller's own activities (Pipedrive's default).
    assert {a["owner_id"] for a in ok(ann.get("/api/v1/activities", limit=500))} == {ann.id}
    assert len(ok(ann.get("/api/v1/activities", limit=500))) == 25
    assert [a["subject"] for a in ok(ben.get("/api/v1/activities"))] == ["Trade fair", "B1"]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7, "owner_id": "everyone"} | ({"cursor": cursor} if cursor else {})
        response = ann.get("/api/v1/activities", **params)
        seen += [a["id"] for a in ok(response)]
        pages += 1
        cursor = response.json()["additional_data"]["next_cursor"]
        assert response.json()["additional_data"]["more_items_in_collection"] is (cursor is not None)
        if cursor is None:
            break
    assert pages == 4 and len(seen) == len(set(seen)) == 27
    assert seen == [a["id"] for a in everything]  # same order, by start

    mine = ok(ann.get("/api/v1/activities", owner_id=ben.id, limit=100))
    assert {a["id"] for a in mine} == {ben_item["id"], long_item["id"]}
    assert len(ok(ann.get("/api/v1/activities", owner_id="everyone", limit=100))) == 27
    calls = ok(ann.get("/api/v1/activities", type="call", limit=100))
    assert {a["subject"] for a in calls} == {f"A{d}" for d in range(1, 26, 2)}
    assert len(ok(ann.get("/api/v1/activities", type="call,email", owner_id=ann.id, limit=100))) == 25
    done = ok(ann.get("/api/v1/activities", done="1", limit=100, owner_id="everyone"))
    assert {a["subject"] for a in done} == {"A5", "A10", "A15", "A20", "A25"}
    assert len(ok(ann.get("/api/v1/activities", done="false", limit=100, owner_id="everyone"))) == 22
    assert len(ok(ann.get("/api/v1/activities", done="false", limit=100))) == 20

    week = ok(ann.get("/api/v1/activities", owner_id="everyone", start_date="2026-12-07", end_date="2026-12-14", limit=100))
    assert [a["subject"] for a in week] == ["Trade fair", "A7", "A8", "A9", "A10", "B1", "A11", "A12", "A13"]
    first = ann.get("/api/v1/activities", owner_id="everyone", start_date="2026-12-07", end_date="2026-12-14", limit=5)
    rest = ok(ann.get("/api/v1/activities", owner_id="everyone", start_date="2026-12-07", end_date="2026-12-14", limit=5,
                      cursor=first.json()["additional_data"]["next_cursor"]))
    assert [a["subject"] for a in ok(first) + rest] == [a["subject"] for a in week]

    stamp = made[-1]["updated_at"]
    ok(ann.patch(f"/api/v1/activities/{made[3]['id']}", {"note": "changed"}))
    recent = ann.get("/api/v1/activities", updated_since=stamp, limit=100)
    assert [a["subject"] for a in ok(recent)][-1] == "A4"
    assert recent.json()["additional_data"]["sort"] == "updated"
    assert "A3" not in [a["subject"] for a in ok(recent)]

    refused(ann.get("/api/v1/activities", cursor="not-a-cursor"), 422, "cursor")
    refused(ann.get("/api/v1/activities", updated_since="2026-12-01T00:00:00Z",
                    cursor=first.json()["additional_data"]["next_cursor"]), 422, "cursor")
    refused(ann.get("/api/v1/activities", type="nope"), 422, "activityTypes")
    refused(ann.get("/api/v1/activities", done="maybe"), 422, "done")
    refused(ann.get("/api/v1/activities", limit="0"), 422, "limit")
    refused(ann.get("/api/v1/activities", limit="501"), 422, "limit")
    refused(ann.get("/api/v1/activities", owner_id="-3"), 422, "owner_id")
    refused(ann.get("/api/v1/activities", owner_id="999999"), 404, "no user")
    refused(ann.get("/api/v1/activities", start_date="2026-12-07"), 422, "end_date")
    refused(ann.get("/api/v1/activities", start_date="2026-12-07", end_date="2026-12-01"), 422, "after")
    refused(ann.get("/api/v1/activities", updated_since="yesterday"), 422, "updated_since")


def test_trash_shows_what_the_viewer_may_see_and_pages(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    ann, ben = as_user("ann@acme.test"), as_user("ben@acme.test")
    ids = [ann.activity(subject=f"T{n}")["id"] for n in range(5)]
    hidden = ann.activity(subject="Only mine", visibility="owner")["id"]
    for activity_id in ids + [hidden]:
        ok(ann.delete(f"/api/v1/activities/{activity_id}"))
    first = ann.get("/api/v1/activities/trash", limit=4)
    cursor = first.json()["additional_data"]["next_cursor"]
    second = ok(ann.get("/api/v1/activities/trash", limit=4, cursor=cursor))
    assert [a["id"] for a in ok(first) + second] == [hidden] + ids[::-1]  # newest deletion first
    assert [a["id"] for a in ok(ben.get("/api/v1/activities/trash"))] == ids[::-1]
    assert "Only mine" not in ben.get("/api/v1/activities/trash").text
    refused(ben.post(f"/api/v1/activities/{ids[0]}/restore"), 403, "owner")
    refused(ben.post(f"/api/v1/activities/{hidden}/restore"), 404)
    refused(ann.get("/api/v1/activities/trash", cursor="eyJ4Ijox"), 422, "cursor")
