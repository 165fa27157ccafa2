"""No data crosses companies: another company's ids answer 404 (or 422 for links), never data."""

from __future__ import annotations

from tests.api.conftest import ok, refused


def test_other_company_ids_give_404_never_data(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test", company="Acme", admin=True)
    people.add("eve@evil.test", company="Evil", admin=True)
    ann, eve = as_user("ann@acme.test"), as_user("eve@evil.test")
    org = ok(ann.post("/api/v1/organizations", {"name": "ACME-ORG"}), 201)
    person = ok(ann.post("/api/v1/persons", {"name": "ACME-PERSON", "org_id": org["id"]}), 201)
    deal = ok(ann.post("/api/v1/deals", {"title": "ACME-DEAL", "person_id": person["id"]}), 201)
    custom = ok(ann.post("/api/v1/activityTypes", {"key": "acme_visit", "name": "ACME-TYPE"}), 201)
    activity = ann.activity(subject="ACME-SUBJECT", deal_id=deal["id"], type="acme_visit")
    trashed = ann.activity(subject="ACME-TRASHED")
    ok(ann.delete(f"/api/v1/activities/{trashed['id']}"))
    markers = ["ACME-"]

    answers = [
        eve.get(f"/api/v1/activities/{activity['id']}"),
        eve.patch(f"/api/v1/activities/{activity['id']}", {"subject": "mine now"}),
        eve.delete(f"/api/v1/activities/{activity['id']}"),
        eve.post(f"/api/v1/activities/{trashed['id']}/restore"),
        eve.get(f"/api/v1/deals/{deal['id']}"),
        eve.patch(f"/api/v1/deals/{deal['id']}", {"title": "x"}),
        eve.delete(f"/api/v1/deals/{deal['id']}"),
        eve.get(f"/api/v1/persons/{person['id']}"),
        eve.delete(f"/api/v1/persons/{person['id']}"),
        eve.get(f"/api/v1/organizations/{org['id']}"),
        eve.patch(f"/api/v1/organizations/{org['id']}", {"name": "x"}),
        eve.get(f"/api/v1/activityTypes/{custom['id']}"),
        eve.patch(f"/api/v1/activityTypes/{custom['id']}", {"name": "x"}),
        eve.delete(f"/api/v1/activityTypes/{custom['id']}"),
        eve.get(f"/api/v1/users/{ann.id}"),
        eve.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07", owner_id=ann.id),
        eve.get("/api/v1/activities", owner_id=ann.id),
        eve.get("/api/v1/activities/trash", owner_id=ann.id),
    ]
    for answer in answers:
        refused(answer, 404)
        assert not any(marker in answer.text for marker in markers), answer.text

    for field, item_id in (("deal_id", deal["id"]), ("person_id", person["id"]), ("org_id", org["id"])):
        answer = eve.post("/api/v1/activities", {"subject": "steal", "start": "2026-12-01T10:00:00Z", field: item_id})
        refused(answer, 422, field)
        assert "ACME-" not in answer.text
    refused(eve.post("/api/v1/activities", {"subject": "x", "start": "2026-12-01T10:00:00Z", "type": "acme_visit"}), 422)
    refused(eve.post("/api/v1/activities", {"subject": "x", "start": "2026-12-01T10:00:00Z", "owner_id": ann.id}), 422)
    refused(eve.post("/api/v1/activities", {"subject": "x", "start": "2026-12-01T10:00:00Z",
                                            "participants": [{"person_id": person["id"]}]}), 422, "person")
    refused(eve.post("/api/v1/deals", {"title": "x", "org_id": org["id"]}), 422, "org_id")

    listings = [
        eve.get("/api/v1/activities", owner_id="everyone", limit=500),
        eve.get("/api/v1/activities/trash"),
        eve.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07"),
        eve.get("/api/v1/deals"),
        eve.get("/api/v1/persons"),
        eve.get("/api/v1/organizations"),
        eve.get("/api/v1/activityTypes"),
        eve.get("/api/v1/users"),
    ]
    for listing in listings:
        assert listing.status_code == 200, listing.text
        assert "ACME-" not in listing.text and "ann@acme.test" not in listing.text
    assert ok(listings[0]) == [] and ok(listings[2]) == []
    assert [u["email"] for u in ok(listings[7])] == ["eve@evil.test"]
    # Ann's data is untouched by all of that.
    assert ok(ann.get(f"/api/v1/activities/{activity['id']}"))["subject"] == "ACME-SUBJECT"
    assert ok(ann.get(f"/api/v1/deals/{deal['id']}"))["title"] == "ACME-DEAL"
