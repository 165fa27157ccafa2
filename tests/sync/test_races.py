"""Stage 2 races: what a sync run must do when the CRM or the settings move under it."""

from __future__ import annotations

from calsync.crm.schemas import ActivityUpdate
from calsync.crm.services.activities import update_activity
from calsync.jobs.runner import EmbeddedRunner
from calsync.store.tables import User
from tests.sync.harness import Harness
from tests.sync.test_runner_cli import runner, wait_until  # noqa: F401  (the runner fixture)

A, B, BOSS = "alice@example.com", "bob@example.com", "boss@example.com"


def test_reassigning_an_activity_syncs_the_old_owner_too(h: Harness, runner: EmbeddedRunner) -> None:  # noqa: F811
    """The old owner's calendar loses the event right away, not at their next scheduled run."""
    h.user(B)
    h.user(BOSS, admin=True)
    h.connect(A)
    h.connect(B)
    aid = h.create(A, "Call Carol")
    runner.start()
    assert wait_until(lambda: [e.summary for e in h.events(A)] == ["Call Carol"])  # the start-up round
    assert wait_until(lambda: len([s for s in runner.history if s.status == "ok"]) >= 2)
    with h.session() as s:  # an admin gives it to Bob through the API's service call
        update_activity(s, s.get(User, h.users[BOSS]), aid, ActivityUpdate(owner_id=h.users[B]), source="api")
    assert wait_until(lambda: [e.summary for e in h.events(B)] == ["Call Carol"])
    assert wait_until(lambda: h.events(A) == [])


def _switch_calendar_when(h: Harness, method: str, phase: str) -> list[str]:
    """Moves Alice's sync to her "work" calendar (committed by another session) the first time the
    provider sees `method` at `phase`, that is in the middle of a run."""
    switched: list[str] = []

    def hook(called: str, when: str) -> None:
        if (called, when) == (method, phase) and not switched:
            switched.append(called)
            h.settings(A, calendar_id="work")

    h.server.hook = hook
    return switched


def test_a_calendar_switch_while_a_run_writes_leaves_nothing_on_the_old_calendar(h: Harness) -> None:
    h.connect(A)
    h.server.add_calendar(A, "work", "Work")
    h.create(A, "Call Carol")
    switched = _switch_calendar_when(h, "create_event", "before")
    racing = h.sync(A)
    h.server.hook = None
    assert switched
    assert [(link.calendar_id, link.status) for link in h.links(A)] == []  # no link left on the old calendar
    assert racing.status == "restart" and "settings changed" in (racing.message or "")
    assert h.account(A).last_error is None  # not a failure: the user changed the settings
    assert h.sync(A).status == "ok"
    assert [e.summary for e in h.server.events(A, "work")] == ["Call Carol"]
    assert [(link.calendar_id, link.status) for link in h.links(A)] == [("work", "linked")]


def test_a_calendar_switch_while_a_run_lists_voids_the_runs_commit(h: Harness) -> None:
    h.connect(A)
    h.server.add_calendar(A, "work", "Work")
    h.put_event(A, "Dentist")  # in the old calendar
    h.create(A, "Call Carol")
    switched = _switch_calendar_when(h, "list_changes", "after")
    racing = h.sync(A)
    h.server.hook = None
    assert switched
    assert [(link.calendar_id, link.status) for link in h.links(A)] == []  # no link left on the old calendar
    assert h.account(A).cursor is None  # nor the old calendar's cursor
    assert racing.status == "restart"
    assert h.sync(A).status == "ok"
    assert [e.summary for e in h.server.events(A, "work")] == ["Call Carol"]
    assert {(link.calendar_id, link.status) for link in h.links(A)} == {("work", "linked")}
