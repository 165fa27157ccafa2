"""GET /api/v1/calendar: range, owner filter, long items, the 500 cap with total, sync status."""

from __future__ import annotations

import datetime as dt

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services.activities import create_activity
from calsync.store.db import session_scope
from calsync.store.tables import Activity, SyncAccount, SyncLink, User
from tests.api.conftest import ok, refused


def test_range_owner_filter_and_long_items(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    ann, ben = as_user("ann@acme.test"), as_user("ben@acme.test")
    ann.activity(subject="Before", start="2026-11-29T10:00:00Z", end="2026-11-29T11:00:00Z")
    ann.activity(subject="Overlaps start", start="2026-11-29T23:30:00Z", end="2026-11-30T00:30:00Z")
    ann.activity(subject="Inside", start="2026-12-02T10:00:00Z", end="2026-12-02T11:00:00Z")
    ann.activity(subject="Zero length at start", start="2026-11-30T00:00:00Z", end="2026-11-30T00:00:00Z")
    ann.activity(subject="Ends at start", start="2026-11-29T22:00:00Z", end="2026-11-30T00:00:00Z")
    ann.activity(subject="At end", start="2026-12-07T00:00:00Z", end="2026-12-07T01:00:00Z")
    ben.activity(subject="Ben's", start="2026-12-03T10:00:00Z", end="2026-12-03T11:00:00Z")
    ben.activity(subject="Three-week project", start="2026-11-15T09:00:00Z", end="2026-12-06T17:00:00Z")
    ben.activity(subject="Long leave", all_day=True, start="2026-11-01", end="2026-12-01")
    ben.activity(subject="Old long leave", all_day=True, start="2026-10-01", end="2026-11-30")

    week = ann.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07")
    subjects = [a["subject"] for a in ok(week)]
    assert sorted(subjects) == sorted(["Overlaps start", "Inside", "Zero length at start", "Ben's",
                                       "Three-week project", "Long leave"])
    extra = week.json()["additional_data"]
    assert extra["total"] == 6 and extra["more_available"] is False and extra["limit"] == 500
    assert (extra["start"], extra["end"], extra["timezone"]) == ("2026-11-30T00:00:00+00:00", "2026-12-07T00:00:00+00:00", "UTC")
    starts = [(a["all_day"], a["start"]) for a in ok(week)]
    assert len(starts) == 6
    only_ben = [a["subject"] for a in ok(ann.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07", owner_id=ben.id))]
    assert sorted(only_ben) == ["Ben's", "Long leave", "Three-week project"]
    everyone = ok(ann.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07", owner_id="everyone"))
    assert len(everyone) == 6
    refused(ann.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07", owner_id=424242), 404, "no user")


def test_at_most_500_with_total_and_more_available(people, as_user, context) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    ann = as_user("ann@acme.test")
    with session_scope(context.sessions) as session:
        owner = session.get(User, ann.id)
        base = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.timezone.utc)
        for n in range(520):
            start = base + dt.timedelta(minutes=17 * n)
            create_activity(session, owner, ActivityCreate(
                subject=f"N{n:03d}", start=start.isoformat(), end=(start + dt.timedelta(minutes=15)).isoformat()),
                source="demo")
        create_activity(session, owner, ActivityCreate(subject="Long", all_day=True, start="2026-12-01", end="2026-12-31"),
                        source="demo")
    response = ann.get("/api/v1/calendar", start="2026-12-07", end="2026-12-14")
    shown = ok(response)
    extra = response.json()["additional_data"]
    assert len(shown) == 500 and extra["total"] == 521 and extra["more_available"] is True
    assert shown[0]["subject"] == "Long"  # ordered by start
    assert [a["subject"] for a in shown[1:4]] == ["N000", "N001", "N002"]
    small = ann.get("/api/v1/calendar", start="2026-12-07", end="2026-12-07T10:00:00Z")
    assert small.json()["additional_data"]["more_available"] is False
    assert small.json()["additional_data"]["total"] == len(ok(small)) == 1 + 8  # Long + 08:00..09:59


def test_sync_status_and_account_on_every_activity(people, as_user, context) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    ann, ben = as_user("ann@acme.test"), as_user("ben@acme.test")
    synced = ann.activity(subject="synced")
    edited = ann.activity(subject="edited since")
    failed = ann.activity(subject="failed")
    fresh = ann.activity(subject="no link yet")
    skipped = ann.activity(subject="an email", type="email")
    private = ann.activity(subject="private one", private=True)
    bens = ben.activity(subject="ben has no account")
    with session_scope(context.sessions) as session:
        account = SyncAccount(user_id=ann.id, company_id=session.get(User, ann.id).company_id, provider="caldav",  # type: ignore[union-attr]
                              account_name="ann@dav.example", credentials_encrypted="x", push_types=["task", "call"])
        session.add(account)
        session.flush()
        for activity_id, status, error in ((synced["id"], "linked", None), (edited["id"], "linked", None),
                                           (failed["id"], "error", "the server said 403 Forbidden")):
            version = session.get(Activity, activity_id).version  # type: ignore[union-attr]
            session.add(SyncLink(account_id=account.id, activity_id=activity_id, calendar_id="cal", event_id=f"e{activity_id}",
                                 origin="crm", status=status, error=error, synced_version=version))
    ok(ann.patch(f"/api/v1/activities/{edited['id']}", {"note": "changed"}))
    for viewer in (ann, ben):
        by_subject = {a["subject"]: a["sync"] for a in ok(viewer.get("/api/v1/activities", owner_id="everyone", limit=100))}
        assert by_subject["synced"] == {"status": "synced", "account": "ann@dav.example", "provider": "caldav", "reason": None}
        assert by_subject["edited since"]["status"] == "pending"
        assert by_subject["failed"]["status"] == "error" and "403" in by_subject["failed"]["reason"]
        assert by_subject["no link yet"]["status"] == "pending"
        assert by_subject["an email"]["status"] == "not_synced" and "email" in by_subject["an email"]["reason"]
        assert by_subject["ben has no account"]["status"] == "no_account"
        calendar = {a["id"]: a["sync"] for a in ok(viewer.get("/api/v1/calendar", start="2026-12-01", end="2026-12-02"))}
        assert calendar[synced["id"]]["status"] == "synced" and calendar[fresh["id"]]["status"] == "pending"
        assert calendar[skipped["id"]]["status"] == "not_synced" and calendar[bens["id"]]["status"] == "no_account"
    assert ok(ann.get(f"/api/v1/activities/{private['id']}"))["sync"]["status"] == "pending"
    assert ok(ben.get(f"/api/v1/activities/{private['id']}"))["sync"] is None  # a busy block says nothing more


def test_names_of_linked_items_only_for_items_the_viewer_may_see(people, as_user) -> None:  # type: ignore[no-untyped-def]
    """The calendar's details panel names an activity's deal, person and organization from
    `additional_data.names`; an item the viewer may no longer see keeps its name to itself."""
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    ann, ben = as_user("ann@acme.test"), as_user("ben@acme.test")
    org = ok(ben.post("/api/v1/organizations", {"name": "Globex Corporation"}), 201)
    deal = ok(ben.post("/api/v1/deals", {"title": "Globex renewal", "org_id": org["id"]}), 201)
    ann.activity(subject="Budget review", deal_id=deal["id"], org_id=org["id"], start="2026-12-02T10:00:00Z", end="2026-12-02T11:00:00Z")

    names = ann.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07").json()["additional_data"]["names"]
    assert names == {"deals": {str(deal["id"]): "Globex renewal"}, "persons": {}, "orgs": {str(org["id"]): "Globex Corporation"}}

    ok(ben.patch(f"/api/v1/deals/{deal['id']}", {"visibility": "owner"}))  # Ben keeps his deal to himself
    week = ann.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07")
    assert [a["subject"] for a in ok(week)] == ["Budget review"]  # her own activity, still hers
    assert week.json()["additional_data"]["names"]["deals"] == {}
    assert "Globex renewal" not in week.text
