"""Viewer x activity visibility x linked-item visibility x private: who sees what, and that no
private detail reaches anyone but the owner in any response (list, get, calendar, trash)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.api.conftest import ok, refused

LINKS = ["none", "deal_everyone", "deal_owner", "person_owner", "org_owner"]


def _secrets(tag: str) -> dict[str, str]:
    return {
        "subject": f"SUBJ-{tag}",
        "public_description": f"DESC-{tag}",
        "note": f"NOTE-{tag}",
        "location": f"LOC-{tag}",
        "conference_meeting_url": f"https://meet.test/CONF-{tag}",
        "attendee": f"att-{tag}@client.test",
    }


def _markers(tag: str) -> list[str]:
    return [value for value in _secrets(tag).values()]


def test_visibility_and_redaction_matrix(people, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add("owner@acme.test")
    people.add("colleague@acme.test")
    people.add("admin@acme.test", admin=True)
    owner = as_user("owner@acme.test")
    viewers = {"colleague": as_user("colleague@acme.test"), "admin": as_user("admin@acme.test")}

    # Items the owner links to: some visible to everyone, some to the owner only.
    open_org = ok(owner.post("/api/v1/organizations", {"name": "Open org"}), 201)
    open_person = ok(owner.post("/api/v1/persons", {"name": "Open person", "org_id": open_org["id"]}), 201)
    items = {
        "deal_everyone": ("deal_id", ok(owner.post("/api/v1/deals", {"title": "Open deal"}), 201)["id"]),
        "deal_owner": ("deal_id", ok(owner.post("/api/v1/deals", {"title": "Closed deal", "visibility": "owner"}), 201)["id"]),
        "person_owner": ("person_id", ok(owner.post("/api/v1/persons", {"name": "Hidden", "visibility": "owner"}), 201)["id"]),
        "org_owner": ("org_id", ok(owner.post("/api/v1/organizations", {"name": "Hidden org", "visibility": "owner"}), 201)["id"]),
    }

    cases: dict[int, dict[str, Any]] = {}
    for n, (visibility, link, private) in enumerate(itertools.product(["everyone", "owner"], LINKS, [False, True])):
        tag = f"{n:02d}X"
        secret = _secrets(tag)
        body: dict[str, Any] = {
            "subject": secret["subject"], "public_description": secret["public_description"], "note": secret["note"],
            "location": secret["location"], "conference_meeting_url": secret["conference_meeting_url"],
            "attendees": [{"email": secret["attendee"], "name": f"NAME-{tag}"}],
            "participants": [{"person_id": open_person["id"]}],
            "visibility": visibility, "private": private,
            "start": f"2026-12-{1 + n % 5:02d}T{8 + n % 8:02d}:00:00Z", "end": f"2026-12-{1 + n % 5:02d}T{9 + n % 8:02d}:00:00Z",
        }
        if link != "none":
            field, item_id = items[link]
            body[field] = item_id
        created = owner.activity(**body)
        assert created["subject"] == secret["subject"] and created["redacted"] is False  # the owner sees it all
        visible = visibility == "everyone" and link in ("none", "deal_everyone")
        cases[created["id"]] = dict(tag=tag, visible=visible, private=private, link=link)

    def check(viewer_name: str, payload: str, listed: list[dict[str, Any]], where: str, only: int | None = None) -> None:
        by_id = {a["id"]: a for a in listed}
        for activity_id, case in cases.items():
            if only is not None and activity_id != only:
                continue
            label = f"{viewer_name} {where} {case}"
            if not case["visible"]:
                assert activity_id not in by_id, label
            else:
                assert activity_id in by_id, label
                shown = by_id[activity_id]
                if case["private"]:
                    _assert_busy_block(shown, label)
                else:
                    assert shown["subject"] == f"SUBJ-{case['tag']}" and shown["note"] == f"NOTE-{case['tag']}", label
            if not case["visible"] or case["private"]:
                for marker in _markers(case["tag"]) + [f"NAME-{case['tag']}"]:
                    assert marker not in payload, f"{marker} leaked to {label}"

    for name, viewer in viewers.items():
        listing = viewer.get("/api/v1/activities", owner_id="everyone", limit=500)
        check(name, listing.text, ok(listing), "list")
        calendar = viewer.get("/api/v1/calendar", start="2026-11-30", end="2026-12-07")
        check(name, calendar.text, ok(calendar), "calendar")
        assert calendar.json()["additional_data"]["total"] == sum(c["visible"] for c in cases.values())
        for activity_id, case in cases.items():
            one = viewer.get(f"/api/v1/activities/{activity_id}")
            if case["visible"]:
                check(name, one.text, [ok(one)], "get", only=activity_id)
            else:
                refused(one, 404, "no activity")
                for marker in _markers(case["tag"]):
                    assert marker not in one.text
            if case["private"] or not case["visible"]:
                # Writing does not reveal anything either.
                attempt = viewer.patch(f"/api/v1/activities/{activity_id}", {"done": True})
                assert attempt.status_code in (403, 404)
                assert not any(marker in attempt.text for marker in _markers(case["tag"]))

    for activity_id in cases:
        ok(owner.delete(f"/api/v1/activities/{activity_id}"))
    for name, viewer in viewers.items():
        trash = viewer.get("/api/v1/activities/trash", limit=500)
        check(name, trash.text, ok(trash), "trash")
        for activity_id, case in cases.items():
            if case["private"] or not case["visible"]:
                attempt = viewer.post(f"/api/v1/activities/{activity_id}/restore")
                assert attempt.status_code in (403, 404)
                assert not any(marker in attempt.text for marker in _markers(case["tag"]))
    own_trash = ok(owner.get("/api/v1/activities/trash", limit=500))
    assert {a["id"] for a in own_trash} == set(cases) and not any(a["redacted"] for a in own_trash)


def _assert_busy_block(shown: dict[str, Any], label: str) -> None:
    assert shown["redacted"] is True, label
    assert shown["subject"] == "Busy" and shown["type"] == "busy", label
    for field in ("public_description", "note", "location", "conference_meeting_url"):
        assert shown[field] == "", f"{field} of {label}"
    assert shown["attendees"] == [] and shown["participants"] == [], label
    assert shown["deal_id"] is None and shown["person_id"] is None and shown["org_id"] is None, label
    assert shown["sync"] is None and shown["series_uid"] is None, label
    assert shown["start"] and shown["end"] and shown["busy"] is True, label
