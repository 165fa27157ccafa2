"""Loose input (issue point 12): the API takes ids as JSON integers and booleans as true/false
only, time zones by their IANA names only, and one activity lasts at most 366 days when timed
and 5 years when all-day; each refusal is a 422 that names the field."""

from __future__ import annotations

import pytest

from tests.api.conftest import refused
from tests.conftest import People

START = "2030-01-07T10:00:00+00:00"


@pytest.fixture
def ann(people: People, as_user):  # type: ignore[no-untyped-def]
    people.add("ann@example.com")
    return as_user("ann@example.com")


def test_a_string_is_not_an_integer_nor_a_boolean(ann) -> None:  # type: ignore[no-untyped-def]
    deal = ann.post("/api/v1/deals", {"title": "Big deal"}).json()["data"]
    for field, value in [("deal_id", str(deal["id"])), ("done", "yes"), ("done", 1), ("busy", "false"),
                         ("all_day", "0"), ("private", "true"), ("owner_id", str(ann.id)), ("deal_id", 1.0),
                         ("deal_id", True)]:
        refused(ann.post("/api/v1/activities", {"subject": "x", "start": START, field: value}), 422, field)
    item = ann.activity(deal_id=deal["id"], done=True)
    assert item["deal_id"] == deal["id"] and item["done"] is True
    refused(ann.patch(f"/api/v1/activities/{item['id']}", {"done": "no"}), 422, "done")
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": START,
                                            "participants": [{"person_id": "3"}]}), 422, "person_id")
    refused(ann.post("/api/v1/deals", {"title": "t", "value": "100"}), 422, "value")
    refused(ann.patch("/api/v1/calendar-sync", {"include_details": "yes"}), 422, "include_details")


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Europe/Berlin", "../zoneinfo/UTC"])
def test_only_iana_zone_names(ann, zone: str) -> None:  # type: ignore[no-untyped-def]
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": START, "timezone": zone}), 422, "timezone")


def test_one_activity_has_a_maximum_length(ann) -> None:  # type: ignore[no-untyped-def]
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": "1900-01-01T00:00:00Z",
                                            "end": "2999-01-01T00:00:00Z"}), 422, "end", "366 days")
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": START, "end": "2031-01-09T10:00:00+00:00"}),
            422, "end")
    assert ann.activity(start=START, end="2031-01-08T10:00:00+00:00")["end"].startswith("2031-01-08")
    refused(ann.post("/api/v1/activities", {"subject": "x", "start": "2030-01-01", "end": "2036-01-01",
                                            "all_day": True}), 422, "end", "5 years")
    long_leave = ann.activity(start="2030-01-01", end="2032-01-01", all_day=True)
    assert long_leave["all_day"] is True
    item = ann.activity()
    refused(ann.patch(f"/api/v1/activities/{item['id']}", {"end": "2999-01-01T00:00:00Z"}), 422, "end")
