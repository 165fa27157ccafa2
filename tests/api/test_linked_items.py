"""Linked deals, persons and organizations: changing or deleting one changes (version bump,
announcement) the activities that show it; attendees match persons by e-mail in one lookup."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from calsync.crm.schemas import ActivityCreate, AttendeeIn
from calsync.crm.services import changes
from calsync.crm.services.activities import create_activity
from calsync.store.db import session_scope
from calsync.store.tables import Activity, PersonEmail, User
from tests.api.conftest import ok


def _versions(context: Any, *ids: int) -> dict[int, int]:
    with session_scope(context.sessions) as session:
        return dict(session.execute(select(Activity.id, Activity.version).where(Activity.id.in_(ids))).all())


def test_changing_or_deleting_linked_items_marks_their_activities_changed(people, as_user, context) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    ann = as_user("ann@acme.test")
    person = ok(ann.post("/api/v1/persons", {"name": "Pat", "emails": ["pat@client.test"], "phones": ["+1 555"]}), 201)
    deal = ok(ann.post("/api/v1/deals", {"title": "Big deal"}), 201)
    org = ok(ann.post("/api/v1/organizations", {"name": "Client Inc"}), 201)
    by_deal = ann.activity(subject="Deal call", deal_id=deal["id"])
    by_person = ann.activity(subject="Pat call", person_id=person["id"])
    by_org = ann.activity(subject="Org call", org_id=org["id"])
    with_participant = ann.activity(subject="Meeting", participants=[{"person_id": person["id"]}])
    with_attendee = ann.activity(subject="Invite", attendees=[{"email": "PAT@client.test"}])
    assert with_attendee["attendees"][0]["person_id"] == person["id"]
    unrelated = ann.activity(subject="Alone")
    trashed = ann.activity(subject="Old", deal_id=deal["id"])
    ok(ann.delete(f"/api/v1/activities/{trashed['id']}"))
    ids = [a["id"] for a in (by_deal, by_person, by_org, with_participant, with_attendee, unrelated, trashed)]
    before = _versions(context, *ids)
    heard: list[tuple[int, int]] = []
    changes.subscribe(listener := lambda owner, activity: heard.append((owner, activity)))
    try:
        ok(ann.patch(f"/api/v1/deals/{deal['id']}", {"value": 500}))  # not shown anywhere: no change
        assert _versions(context, *ids) == before and heard == []

        ok(ann.patch(f"/api/v1/deals/{deal['id']}", {"title": "Bigger deal"}))
        after = _versions(context, *ids)
        assert after[by_deal["id"]] == before[by_deal["id"]] + 1
        assert heard == [(ann.id, by_deal["id"])]
        assert {i: v for i, v in after.items() if i != by_deal["id"]} == {i: v for i, v in before.items() if i != by_deal["id"]}
        listed = {a["id"]: a for a in ok(ann.get("/api/v1/activities", updated_since=by_deal["updated_at"]))}
        assert by_deal["id"] in listed  # an updated_since poller sees it too

        heard.clear()
        ok(ann.patch(f"/api/v1/persons/{person['id']}", {"phones": ["+1 666"]}))  # the contact line shows a phone
        assert heard == [(ann.id, by_person["id"])]
        heard.clear()
        ok(ann.patch(f"/api/v1/organizations/{org['id']}", {"visibility": "owner"}))
        assert heard == [(ann.id, by_org["id"])]

        heard.clear()
        before = _versions(context, *ids)
        ok(ann.delete(f"/api/v1/organizations/{org['id']}"))
        ok(ann.delete(f"/api/v1/persons/{person['id']}"))
        ok(ann.delete(f"/api/v1/deals/{deal['id']}"))
        after = _versions(context, *ids)
        for changed in (by_deal, by_person, by_org, with_participant, with_attendee):
            assert after[changed["id"]] == before[changed["id"]] + 1, changed["subject"]
        assert after[unrelated["id"]] == before[unrelated["id"]]
        assert after[trashed["id"]] == before[trashed["id"]]  # in the trash: not pushed, not announced
        assert sorted(heard) == sorted((ann.id, a["id"]) for a in (by_deal, by_person, by_org, with_participant, with_attendee))
    finally:
        changes.unsubscribe(listener)
    shown = {a["id"]: a for a in ok(ann.get("/api/v1/activities"))}
    assert shown[by_deal["id"]]["deal_id"] is None and shown[by_person["id"]]["person_id"] is None
    assert shown[by_org["id"]]["org_id"] is None and shown[with_participant["id"]]["participants"] == []
    assert shown[with_attendee["id"]]["attendees"][0]["person_id"] is None
    restored = ok(ann.post(f"/api/v1/activities/{trashed['id']}/restore"))
    assert restored["deal_id"] is None


def test_attendees_match_persons_by_email_in_one_lookup(people, as_user, context) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    people.add("zed@other.test", company="Other")
    ann, zed = as_user("ann@acme.test"), as_user("zed@other.test")
    ok(zed.post("/api/v1/persons", {"name": "Other Pat", "emails": ["pat@client.test"]}), 201)  # another company
    pat = ok(ann.post("/api/v1/persons", {"name": "Pat", "emails": ["Pat@Client.test", "pat.home@client.test"]}), 201)
    twin = ok(ann.post("/api/v1/persons", {"name": "Pat again", "emails": ["PAT@client.test"]}), 201)
    made = ann.activity(attendees=[{"email": "pat@CLIENT.test"}, {"email": "pat.home@client.test"},
                                   {"email": "nobody@client.test"}])
    assert [(a["email"], a["person_id"]) for a in made["attendees"]] == [
        ("pat@client.test", pat["id"]), ("pat.home@client.test", pat["id"]), ("nobody@client.test", None)]
    assert twin["id"] > pat["id"]  # the oldest person wins a shared address

    ok(ann.patch(f"/api/v1/persons/{pat['id']}", {"emails": ["pat.work@client.test"]}))
    again = ann.activity(attendees=[{"email": "pat@client.test"}, {"email": "pat.home@client.test"},
                                    {"email": "PAT.WORK@client.test"}])
    assert [a["person_id"] for a in again["attendees"]] == [twin["id"], None, pat["id"]]
    ok(ann.delete(f"/api/v1/persons/{twin['id']}"))
    with session_scope(context.sessions) as session:
        assert session.scalars(select(PersonEmail.email).where(PersonEmail.person_id == twin["id"])).all() == []

    # One query for the whole attendee list, on person_emails; persons are not read one by one.
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context_, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(context.engine, "before_cursor_execute", record)
    try:
        with session_scope(context.sessions) as session:
            actor = session.get(User, ann.id)
            assert actor is not None
            attendees = [AttendeeIn(email=f"guest{n}@client.test") for n in range(20)]
            attendees.append(AttendeeIn(email="pat.work@client.test"))
            activity = create_activity(session, actor, ActivityCreate(
                subject="Big meeting", start="2026-12-03T10:00:00Z", attendees=attendees))
            assert [a.person_id for a in activity.attendees][-1] == pat["id"]
    finally:
        event.remove(context.engine, "before_cursor_execute", record)
    lookups = [s for s in statements if "person_emails" in s]
    assert len(lookups) == 1, lookups
    assert not [s for s in statements if "FROM persons" in s]
