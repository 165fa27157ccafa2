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
