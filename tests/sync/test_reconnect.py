"""Reconnecting the same calendar account (after a disconnect, or after trying another account)
keeps that account's settings and links its events again without claiming conflicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.store.tables import User
from calsync.sync import accounts as sync_accounts
from calsync.sync.model import Event
from tests.sync.harness import Harness, soon

A = "alice@example.com"
HOUR = dt.timedelta(hours=1)
CHOSEN = dict(sync_type="two_way", external_event_visibility="owner", private_events="everyone", import_type="lunch",
              push_types=["call", "meeting"], include_details=True, send_invitations=True, calendar_id="work")
SETTINGS = ("sync_type", "external_event_visibility", "private_events", "import_type", "push_types", "include_details",
            "send_invitations", "calendar_id", "calendar_name")


def settings_of(h: Harness) -> dict[str, Any]:
    with h.session() as s:
        view = sync_accounts.view(sync_accounts.get_account(s, s.get(User, h.users[A])))
    return {key: view[key] for key in SETTINGS}


def disconnect(h: Harness) -> None:
    with h.session() as s:
        sync_accounts.disconnect(s, s.get(User, h.users[A]))


def test_reconnecting_the_same_account_keeps_its_settings_and_logs_no_false_conflict(h: Harness) -> None:
    h.server.add_calendar(A, "work", "Work")
    h.connect(A, **CHOSEN)
    before = settings_of(h)
    assert before["calendar_id"] == "work" and before["private_events"] == "everyone"
    h.create(A, "Call Bob", type="call")
    start = soon(3)
    h.server.user_put(A, Event("work", summary="Secret", start=start, end=start + HOUR, timezone="UTC", privacy="private"))
    h.server.user_put(A, Event("work", summary="Open", start=start, end=start + HOUR, timezone="UTC"))
    assert h.sync(A).status == "ok"
    assert {a.subject: a.private for a in h.activities(A)} == {"Call Bob": False, "Secret": False, "Open": False}
    disconnect(h)
    # while disconnected, only the calendar side changes
    (opened,) = [e for e in h.server.events(A, "work") if e.summary == "Open"]
    h.server.user_put(A, Event(**{**vars(opened), "summary": "Open (moved)"}))
    h.connect(A)
    assert settings_of(h) == before
    summary = h.sync(A)
    assert summary.status == "ok", summary.line()
    assert summary.conflicts == 0 and h.last_run(A).conflicts == 0, summary.entries
    assert not [e for e in summary.entries if e["kind"] == "conflict"]
    # the private event imported as public under "everyone" stays so, and is not rewritten
    assert {a.subject: a.private for a in h.activities(A)} == {"Call Bob": False, "Secret": False, "Open (moved)": False}
    assert summary.pushed == 0
    assert sorted((e.summary, e.privacy) for e in h.server.events(A, "work")) == [
        ("Call Bob", "public"), ("Open (moved)", "public"), ("Secret", "private")]


def test_switching_to_another_account_and_back_restores_the_first_accounts_settings(h: Harness) -> None:
    h.server.add_calendar("alice-work", "team", "Team")
    h.connect(A, "alice-work", **{**CHOSEN, "calendar_id": "team"})
    before = settings_of(h)
    h.connect(A, "alice-home")
    h.settings(A, sync_type="one_way", private_events="skip", import_type="call", push_types=None, include_details=False)
    h.connect(A, "alice-work")
    assert settings_of(h) == before
    h.connect(A, "alice-home")
    home = settings_of(h)
    assert home["sync_type"] == "one_way" and home["private_events"] == "skip" and home["calendar_id"] == "primary"
