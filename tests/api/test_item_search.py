"""GET /api/v1/items/search: the type-ahead's server-side search over deals, persons and
organizations (prefix of the name, any case, only what the viewer may see)."""

from __future__ import annotations

from tests.api.conftest import ok, refused


def test_search_finds_by_name_prefix_and_hides_what_the_viewer_may_not_see(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("alice@acme.test")
    people.add("bob@acme.test")
    people.add("eve@other.test", company="Other")
    alice, bob, eve = as_user("alice@acme.test"), as_user("bob@acme.test"), as_user("eve@other.test")
    for title in ("Globex renewal", "globex Expansion", "Initech upgrade", "Émile's deal"):
        ok(alice.post("/api/v1/deals", {"title": title}), 201)
    secret = ok(alice.post("/api/v1/deals", {"title": "Globex secret", "visibility": "owner"}), 201)
    ok(alice.post("/api/v1/persons", {"name": "Glória Globe"}), 201)
    ok(eve.post("/api/v1/deals", {"title": "Globex of another company"}), 201)

    def names(client, kind: str, q: str, **extra: object) -> list[str]:  # type: ignore[no-untyped-def]
        return [row["name"] for row in ok(client.get("/api/v1/items/search", kind=kind, q=q, **extra))]

    assert names(alice, "deal", "GLOBEX") == ["globex Expansion", "Globex renewal", "Globex secret"]
    assert names(bob, "deal", "  globex ") == ["globex Expansion", "Globex renewal"]
    assert "Globex secret" not in names(bob, "deal", "glo")
    assert names(bob, "deal", "émi") == ["Émile's deal"]
    assert names(bob, "person", "GLÓ") == ["Glória Globe"]
    assert names(bob, "organization", "glo") == []
    assert names(eve, "deal", "globex") == ["Globex of another company"]
    refused(bob.get(f"/api/v1/deals/{secret['id']}"), 404)

    first = alice.get("/api/v1/items/search", kind="deal", q="", limit=2)
    assert len(ok(first)) == 2 and first.json()["additional_data"]["pagination"]["more_items_in_collection"] is True
    row = ok(alice.get("/api/v1/items/search", kind="deal", q="initech"))[0]
    assert set(row) == {"id", "kind", "name", "owner_id", "visibility"} and row["kind"] == "deal"

    refused(bob.get("/api/v1/items/search", kind="lead", q="x"), 422, "kind", "deal, person, organization")
    refused(bob.get("/api/v1/items/search", kind="deal", q="x", limit=0), 422, "limit")
    refused(bob.get("/api/v1/items/search", kind="deal", q="x" * 301), 422, "q")
    assert bob.api.get("/api/v1/items/search", params={"kind": "deal"}).status_code == 401


def test_search_follows_renames(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("alice@acme.test")
    alice = as_user("alice@acme.test")
    org = ok(alice.post("/api/v1/organizations", {"name": "Old name"}), 201)
    ok(alice.patch(f"/api/v1/organizations/{org['id']}", {"name": "Umbrella Corp"}))
    assert [r["id"] for r in ok(alice.get("/api/v1/items/search", kind="organization", q="umb"))] == [org["id"]]
    assert ok(alice.get("/api/v1/items/search", kind="organization", q="old")) == []
