"""Restoring from the trash over the API: an occurrence cancelled in the calendar is refused with a
409 that says why, instead of coming back read-only, unsynced and stuck."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select

from calsync.providers.memory import MemoryCalendarServer
from calsync.store.db import session_scope
from calsync.store.tables import Activity
from calsync.sync.model import Event
from calsync.web.context import AppContext
from tests.conftest import People
from tests.sync.test_api import BASE, server  # noqa: F401  (the in-memory calendar server fixture)

A = "alice@example.com"


def test_restoring_a_cancelled_occurrence_is_refused_with_a_409(api: httpx.Client, people: People, context: AppContext,
                                                                server: MemoryCalendarServer) -> None:  # noqa: F811
    people.add(A)
    headers = people.headers(A)
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=5)).replace(microsecond=0)
    sid = server.user_put_series("alice-cal", Event("primary", summary="Standup", start=start, end=start + dt.timedelta(hours=1), timezone="UTC"),
                                 freq="daily", count=3)
    assert api.post(f"{BASE}/connect", json={"provider": "memory", "account": "alice-cal"}, headers=headers).status_code == 201
    assert api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers).json()["data"]["status"] == "ok"
    with session_scope(context.sessions) as s:
        occurrences = sorted((a.occurrence_id, a.id) for a in s.scalars(select(Activity).where(Activity.series_uid.is_not(None))))
    assert len(occurrences) == 3
    cancelled_rid, cancelled_id = occurrences[1]
    server.user_cancel_occurrence("alice-cal", "primary", sid, cancelled_rid)
    assert api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers).json()["data"]["status"] == "ok"
    assert api.get(f"/api/v1/activities/{cancelled_id}", headers=headers).status_code == 404  # in the trash

    answer = api.post(f"/api/v1/activities/{cancelled_id}/restore", headers=headers)
    assert answer.status_code == 409, answer.text
    assert "this occurrence was cancelled in the calendar" in answer.json()["error"]
    assert api.get(f"/api/v1/activities/{cancelled_id}", headers=headers).status_code == 404  # still in the trash
    assert api.post(f"{BASE}/sync", params={"wait": "true"}, headers=headers).json()["data"]["status"] == "ok"
    listed = api.get("/api/v1/activities", headers=headers).json()["data"]
    assert sorted(a["occurrence_id"] for a in listed) == [occurrences[0][0], occurrences[2][0]]
    assert all(a["read_only"] for a in listed)
