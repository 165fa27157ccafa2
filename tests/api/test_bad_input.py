"""Bad input answers 4xx JSON that says what to fix, never a 500; big bodies get 413; docs load."""

from __future__ import annotations

import json

import httpx

from tests.api.conftest import ok, refused

START = "2026-12-01T10:00:00Z"


def test_authentication(api: httpx.Client, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    for path in ("/api/v1/activities", "/api/v1/calendar?start=2026-12-01&end=2026-12-02", "/api/v1/users/me",
                 "/api/v1/deals", "/api/v1/activityTypes"):
        refused(api.get(path), 401, "X-Api-Token")
        refused(api.get(path, headers={"X-Api-Token": "0" * 40}), 401, "calsync user token")
    me = ok(api.get("/api/v1/users/me", headers=people.headers("ann@acme.test")))
    assert me["email"] == "ann@acme.test" and me["timezone"] == "UTC" and "password_hash" not in me
    assert ok(api.get("/api/v1/users/me", params={"api_token": people.tokens["ann@acme.test"]}))["id"] == me["id"]


def test_bad_activity_bodies_are_422_with_the_field(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    ann = as_user("ann@acme.test")
    cases = [
        ({"start": START}, "subject"),
        ({"subject": "x"}, "start"),
        ({"subject": "x", "start": "tomorrow"}, "start"),
        ({"subject": "x", "start": "2026-13-45T10:00:00Z"}, "start"),
        ({"subject": "x", "start": "99999-01-01T10:00:00Z"}, "start"),
        ({"subject": "x", "start": "9999-12-31T23:00:00-05:00"}, "start"),
        ({"subject": "x", "start": "0001-01-01T00:00:00+05:00"}, "start"),
        ({"subject": "x", "start": START, "end": "2026-11-01T10:00:00Z"}, "end"),
        ({"subject": "x", "start": START, "timezone": "Mars/Olympus"}, "timezone"),
        ({"subject": "x", "start": START, "timezone": "../../etc/passwd"}, "timezone"),
        ({"subject": "x", "start": START, "type": "nope"}, "type"),
        ({"subject": "x", "start": "2026-12-01T10:00:00Z", "all_day": True}, "start"),
        ({"subject": "x", "start": "2026-12-01", "end": "2026-12-01", "all_day": True}, "end"),
        ({"subject": "x", "start": "9999-12-31", "all_day": True}, "start"),
        ({"subject": 12, "start": START}, "subject"),
        ({"subject": "x", "start": START, "done": "perhaps"}, "done"),
        ({"subject": "x", "start": START, "deal_id": "abc"}, "deal_id"),
        ({"subject": "x", "start": START, "deal_id": 10**30}, "deal_id"),
        ({"subject": "x", "start": START, "deal_id": -1}, "deal_id"),
        ({"subject": "x", "start": START, "deal_id": 424242}, "deal_id"),
        ({"subject": "x", "start": START, "owner_id": 424242}, "owner_id"),
        ({"subject": "x", "start": START, "participants": [{"person_id": 424242}]}, "person"),
        ({"subject": "x", "start": START, "participants": "everyone"}, "participants"),
        ({"subject": "x", "start": START, "attendees": [{"email": "not-an-address"}]}, "email"),
        ({"subject": "x", "start": START, "attendees": [{"email": "a@b.test", "status": "maybe"}]}, "status"),
        ({"subject": "x", "start": START, "visibility": "public"}, "visibility"),
        ({"subject": "x", "start": START, "colour": "red"}, "colour"),
        ({"subject": "x" * 501, "start": START}, "subject"),
        ({"subject": "nul\u0000byte", "start": START}, "NUL"),
        ({"subject": "x", "start": START, "note": "a\u0000"}, "NUL"),
        ([{"subject": "x", "start": START}], "body"),
        ("just a string", "body"),
    ]
    for body, word in cases:
        refused(ann.post("/api/v1/activities", body), 422, word)
    item = ann.activity()
    for body, word in [
        ({"subject": None}, "subject"),
        ({"start": None}, "start"),
        ({"type": None}, "type"),
        ({"start": "2026-02-30T10:00:00"}, "start"),
        ({"end": "2020-01-01T00:00:00Z"}, "end"),
        ({"unknown": 1}, "unknown"),
        ({"timezone": "Nowhere/City"}, "timezone"),
    ]:
        refused(ann.patch(f"/api/v1/activities/{item['id']}", body), 422, word)
    raw = ann.api.post("/api/v1/activities", content=b"{not json", headers={**ann.headers, "content-type": "application/json"})
    refused(raw, 422, "JSON")
    empty = ann.api.post("/api/v1/activities", content=b"", headers={**ann.headers, "content-type": "application/json"})
    assert empty.status_code == 422 and empty.json()["success"] is False
    deep = b'{"subject": "x", "start": "2026-12-01T10:00:00Z", "attendees": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    refused(ann.api.post("/api/v1/activities", content=deep, headers={**ann.headers, "content-type": "application/json"}),
            400, "nested too deeply")


def test_bad_ids_and_query_parameters(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    ann = as_user("ann@acme.test")
    for path in ("/api/v1/activities/abc", "/api/v1/activities/0", "/api/v1/activities/-5",
                 f"/api/v1/activities/{10**20}", f"/api/v1/deals/{2**31}", "/api/v1/persons/1.5",
                 "/api/v1/activityTypes/x", "/api/v1/users/%00"):
        assert ann.get(path).status_code == 422, path
    for path in ("/api/v1/activities/424242", "/api/v1/deals/424242", "/api/v1/persons/424242",
                 "/api/v1/organizations/424242", "/api/v1/activityTypes/424242", "/api/v1/users/424242"):
        refused(ann.get(path), 404, "no")
    refused(ann.patch("/api/v1/activities/424242", {"done": True}), 404)
    refused(ann.delete("/api/v1/activities/424242"), 404)
    refused(ann.post("/api/v1/activities/424242/restore"), 404)
    for params, word in [
        ({"start": "2026-12-01"}, "end"),
        ({"start": "soon", "end": "2026-12-02"}, "start"),
        ({"start": "2026-12-01", "end": "2026-12-01"}, "after"),
        ({"start": "2026-12-01", "end": "2028-12-01"}, "shorter"),
        ({"start": "2026-12-01", "end": "2026-12-08", "timezone": "Bad/Zone"}, "timezone"),
        ({"start": "2026-12-01", "end": "2026-12-08", "timezone": "a\u0000b"}, "timezone"),
        ({"start": "2026-12-01", "end": "2026-12-08", "owner_id": "bob"}, "owner_id"),
        ({"start": "2026-12-01", "end": "2026-12-08", "owner_id": str(10**40)}, "owner_id"),
        ({"start": "1800-01-01", "end": "1800-01-08"}, "year"),
        ({"start": "2026-12-01\u0000", "end": "2026-12-08"}, "start"),
    ]:
        refused(ann.get("/api/v1/calendar", **params), 422, word)
    for params in ({"type": "x\u0000"}, {"cursor": "%%%"}, {"cursor": "W10"}, {"limit": "ten"}, {"done": "2"},
                   {"start_date": "x", "end_date": "y"}, {"updated_since": "2026-99-01"}):
        answer = ann.get("/api/v1/activities", **params)
        assert answer.status_code == 422 and answer.json()["success"] is False, (params, answer.text)
    for params in ({"start": "x"}, {"limit": "100000"}, {"limit": "-1"}):
        refused(ann.get("/api/v1/deals", **params), 422)
    refused(ann.get("/api/v1/nothing-here"), 404, "nothing at this address")
    refused(ann.api.put("/api/v1/activities", headers=ann.headers), 405, "not allowed")


def test_big_bodies_are_refused_with_413(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@acme.test")
    ann = as_user("ann@acme.test")
    huge = json.dumps({"subject": "x", "start": START, "note": "n" * 2_000_000}).encode()
    answer = ann.api.post("/api/v1/activities", content=huge, headers={**ann.headers, "content-type": "application/json"})
    refused(answer, 413, "larger than")

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"subject": "x", "start": "2026-12-01T10:00:00Z", "note": "'
        for _ in range(40):
            yield b"n" * 50_000
        yield b'"}'

    streamed = ann.api.post("/api/v1/activities", content=chunks(), headers={**ann.headers, "content-type": "application/json"})
    refused(streamed, 413, "larger than")
    assert ok(ann.get("/api/v1/activities", owner_id="everyone")) == []  # nothing was stored
    # Under the limit but over a field's maximum: 422 with the field.
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": START, "note": "n" * 60_000}), 422, "note")


def test_openapi_and_docs_load(api: httpx.Client) -> None:
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = api.get("/openapi.json").json()
    for path in ("/api/v1/activities", "/api/v1/activities/{activity_id}", "/api/v1/activities/trash",
                 "/api/v1/activities/{activity_id}/restore", "/api/v1/calendar", "/api/v1/activityTypes",
                 "/api/v1/deals", "/api/v1/persons/{item_id}", "/api/v1/organizations", "/api/v1/users/me"):
        assert path in schema["paths"], path
    assert "ActivityCreate" in schema["components"]["schemas"]
