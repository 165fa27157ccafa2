"""Deals, persons, organizations, activity types and users over HTTP."""

from __future__ import annotations

from tests.api.conftest import ok, refused


def test_deals_persons_organizations_crud_and_visibility(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("boss@acme.test", admin=True)
    people.add("ann@acme.test")
    people.add("ben@acme.test")
    boss, ann, ben = as_user("boss@acme.test"), as_user("ann@acme.test"), as_user("ben@acme.test")

    org = ok(ann.post("/api/v1/organizations", {"name": "Globex", "address": "1 Main St"}), 201)
    assert org == {"id": org["id"], "name": "Globex", "address": "1 Main St", "owner_id": ann.id, "visibility": "everyone"}
    person = ok(ann.post("/api/v1/persons", {"name": "Pat", "emails": ["pat@globex.example"], "phones": ["+1 555"],
                                             "org_id": org["id"]}), 201)
    assert person["emails"] == ["pat@globex.example"] and person["org_id"] == org["id"]
    deal = ok(ann.post("/api/v1/deals", {"title": "Globex renewal", "value": 12000, "currency": "USD",
                                         "person_id": person["id"], "org_id": org["id"]}), 201)
    assert (deal["value"], deal["currency"], deal["status"]) == (12000, "USD", "open")
    secret = ok(ann.post("/api/v1/deals", {"title": "Secret deal", "visibility": "owner"}), 201)

    for kind, item in (("organizations", org), ("persons", person), ("deals", deal)):
        assert ok(ben.get(f"/api/v1/{kind}/{item['id']}")) == item
    assert [d["title"] for d in ok(ben.get("/api/v1/deals"))] == ["Globex renewal"]
    refused(ben.get(f"/api/v1/deals/{secret['id']}"), 404)
    refused(boss.get(f"/api/v1/deals/{secret['id']}"), 404)  # admins follow the same rule
    assert len(ok(ann.get("/api/v1/deals"))) == 2

    refused(ben.patch(f"/api/v1/deals/{deal['id']}", {"title": "mine"}), 403, "owner")
    refused(ben.delete(f"/api/v1/persons/{person['id']}"), 403)
    refused(ben.post("/api/v1/deals", {"title": "x", "owner_id": ann.id}), 403, "admin")
    changed = ok(ann.patch(f"/api/v1/deals/{deal['id']}", {"status": "won", "value": 15000}))
    assert (changed["status"], changed["value"], changed["title"]) == ("won", 15000, "Globex renewal")
    assert ok(boss.api.put(f"/api/v1/organizations/{org['id']}", json={"owner_id": ben.id}, headers=boss.headers))["owner_id"] == ben.id
    for body, word in (({"title": ""}, "title"), ({"currency": "euro"}, "currency"), ({"status": "maybe"}, "status"),
                       ({"value": -1}, "value"), ({"title": None}, "title"), ({"person_id": 424242}, "person_id"),
                       ({"stage": 2}, "stage")):
        refused(ann.patch(f"/api/v1/deals/{deal['id']}", body), 422, word)
    refused(ann.patch(f"/api/v1/deals/{deal['id']}", {"owner_id": ben.id}), 403, "admin")
    refused(boss.patch(f"/api/v1/deals/{deal['id']}", {"owner_id": 424242}), 422, "owner_id")
    refused(ann.post("/api/v1/persons", {"name": "x", "phones": ["1" * 60]}), 422, "phone")
    refused(ann.post("/api/v1/persons", {"name": "x", "emails": ["nope"]}), 422, "emails")

    for _ in range(3):
        ok(ann.post("/api/v1/organizations", {"name": "More"}), 201)
    page = ann.get("/api/v1/organizations", limit=2)
    assert len(ok(page)) == 2
    assert page.json()["additional_data"]["pagination"] == {"start": 0, "limit": 2, "more_items_in_collection": True, "next_start": 2}
    rest = ann.get("/api/v1/organizations", start=2, limit=10)
    assert len(ok(rest)) == 2 and rest.json()["additional_data"]["pagination"]["more_items_in_collection"] is False

    # Deleting a linked item leaves the activity, unlinked.
    activity = ann.activity(deal_id=deal["id"], person_id=person["id"])
    ok(ann.delete(f"/api/v1/deals/{deal['id']}"))
    refused(ann.get(f"/api/v1/deals/{deal['id']}"), 404)
    assert ok(ann.get(f"/api/v1/activities/{activity['id']}"))["deal_id"] is None
    ok(boss.delete(f"/api/v1/persons/{person['id']}"))
    assert ok(ann.get(f"/api/v1/activities/{activity['id']}"))["person_id"] is None


def test_activity_types_admin_writes(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("boss@acme.test", admin=True)
    people.add("ann@acme.test")
    boss, ann = as_user("boss@acme.test"), as_user("ann@acme.test")
    builtin = ok(ann.get("/api/v1/activityTypes"))
    assert [t["key"] for t in builtin] == ["call", "meeting", "task", "deadline", "email", "lunch"]
    assert not any(t["is_custom"] for t in builtin)

    refused(ann.post("/api/v1/activityTypes", {"key": "demo", "name": "Demo"}), 403, "admin")
    made = ok(boss.post("/api/v1/activityTypes", {"key": "demo", "name": "Demo", "icon": "monitor", "color": "#112233"}), 201)
    assert (made["key"], made["is_custom"], made["active"]) == ("demo", True, True)
    refused(boss.post("/api/v1/activityTypes", {"key": "demo", "name": "Again"}), 409, "exists")
    refused(boss.post("/api/v1/activityTypes", {"key": "Bad Key", "name": "x"}), 422, "key")
    refused(boss.post("/api/v1/activityTypes", {"key": "ok", "name": "x", "color": "red"}), 422, "color")
    assert ok(ann.get(f"/api/v1/activityTypes/{made['id']}"))["name"] == "Demo"

    used = ann.activity(type="demo")
    refused(ann.patch(f"/api/v1/activityTypes/{made['id']}", {"name": "x"}), 403)
    renamed = ok(boss.patch(f"/api/v1/activityTypes/{made['id']}", {"name": "Product demo", "color": "#445566"}))
    assert (renamed["name"], renamed["color"]) == ("Product demo", "#445566")
    refused(boss.patch(f"/api/v1/activityTypes/{made['id']}", {"key": "other"}), 422, "key")
    refused(ann.delete(f"/api/v1/activityTypes/{made['id']}"), 403)
    off = ok(boss.delete(f"/api/v1/activityTypes/{made['id']}"))
    assert off["active"] is False
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": "2026-12-01T10:00:00Z", "type": "demo"}), 422, "deactivated")
    assert ok(ann.get(f"/api/v1/activities/{used['id']}"))["type"] == "demo"  # existing ones keep it
    assert [a["id"] for a in ok(ann.get("/api/v1/activities", type="demo"))] == [used["id"]]
    assert ok(boss.patch(f"/api/v1/activityTypes/{made['id']}", {"active": True}))["active"] is True


def test_users_list_and_me(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test", timezone="Europe/Berlin", admin=True)
    people.add("ben@acme.test")
    people.add("out@other.test", company="Other")
    ann = as_user("ann@acme.test")
    users = ok(ann.get("/api/v1/users"))
    assert sorted(u["email"] for u in users) == ["ann@acme.test", "ben@acme.test"]
    assert all(set(u) == {"id", "email", "name", "timezone", "is_admin", "active", "status"} for u in users)
    me = ok(ann.get("/api/v1/users/me"))
    assert (me["email"], me["timezone"], me["is_admin"]) == ("ann@acme.test", "Europe/Berlin", True)
    ben_id = next(u["id"] for u in users if u["email"] == "ben@acme.test")
    assert ok(ann.get(f"/api/v1/users/{ben_id}"))["email"] == "ben@acme.test"
