"""GET /api/v1/calendar-sync/progress: the caller's own running run, small enough to poll."""

from __future__ import annotations

import httpx

from calsync.store.db import session_scope
from calsync.store.tables import SyncRun
from calsync.web.context import AppContext
from tests.conftest import People
from tests.sync.test_api import BASE, server  # noqa: F401  (fixture)

A, B = "alice@example.com", "bob@example.com"


def test_progress_of_the_callers_own_run_only(api: httpx.Client, people: People, context: AppContext, server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    people.add(A)
    people.add(B)
    assert api.get(f"{BASE}/progress").status_code == 401
    assert api.get(f"{BASE}/progress", headers=people.headers(A)).json()["data"] == {
        "connected": False, "running": False, "latest_run_id": None}
    created = api.post(f"{BASE}/connect", json={"provider": "memory", "account": "alice-cal"}, headers=people.headers(A))
    assert created.status_code == 201, created.text
    account_id = created.json()["data"]["id"]
    # the run the connect started is over once a waited-for run has been done after it
    assert api.post(f"{BASE}/sync", params={"wait": "true"}, headers=people.headers(A)).json()["data"]["status"] == "ok"
    with session_scope(context.sessions) as s:
        run = SyncRun(account_id=account_id, trigger="connect", status="running", entries=[],
                      progress={"phase": "reading", "done": 2000, "total": 5000})
        s.add(run)
        s.flush()
        run_id = run.id

    mine = api.get(f"{BASE}/progress", headers=people.headers(A)).json()["data"]
    assert (mine["running"], mine["run_id"], mine["phase"], mine["done"], mine["total"]) == (True, run_id, "reading", 2000, 5000)
    assert mine["latest_run_id"] >= run_id
    assert api.get(f"{BASE}/progress", headers=people.headers(B)).json()["data"]["running"] is False

    with session_scope(context.sessions) as s:
        stored = s.get(SyncRun, run_id)
        assert stored is not None
        stored.status = "ok"
    done = api.get(f"{BASE}/progress", headers=people.headers(A)).json()["data"]
    assert done["running"] is False and "phase" not in done
