"""Settings › Calendar sync: "Sync everything again" catches an edit the calendar's change feed
never reported; the trash says why each item is there (deleted by you / by a colleague, deleted in
your calendar, a cancelled occurrence) and restores the ones ticked, or all. As alice and bob,
desktop and phone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from calsync.providers.memory import DEFAULT_FACTORY, MemoryCalendarServer, MemoryProviderFactory
from calsync.sync import registry
from calsync.sync.model import Event
from tests.sync.test_resync_and_trash_api import lose_change
from tests.web.conftest import shoot, sign_in

pytestmark = pytest.mark.browser

SYNC = "/api/v1/calendar-sync"
SIZES = {"desktop": dict(viewport={"width": 1280, "height": 900}),
         "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)}


@pytest.fixture(autouse=True)
def test_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALSYNC_TEST_PROVIDERS", "1")


@pytest.fixture
def server() -> Iterator[MemoryCalendarServer]:
    factory = MemoryProviderFactory()
    registry.register(factory)
    yield factory.server
    registry.register(DEFAULT_FACTORY)


class Api:
    def __init__(self, live_url: str, token: str) -> None:
        self.url, self.headers = live_url, {"X-Api-Token": token}

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.url + path, headers=self.headers, timeout=60, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()["data"]

    def activity(self, subject: str, hours: int) -> int:
        start = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=hours)
        body = {"subject": subject, "type": "call", "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
        return int(self("POST", "/api/v1/activities", json=body)["id"])


def prepare(api: Api, server: MemoryCalendarServer, account: str, name: str) -> dict[str, int]:
    """A connected account with one of each kind of trashed activity and an edit the feed lost."""
    start = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    dentist = server.user_put(account, Event("primary", summary=f"{name}'s dentist", start=start, end=start + dt.timedelta(hours=1),
                                             timezone="UTC")).event_id
    series = server.user_put_series(account, Event("primary", summary=f"{name}'s standup", start=start + dt.timedelta(hours=3),
                                                   end=start + dt.timedelta(hours=3, minutes=15), timezone="UTC"), freq="daily", count=2)
    ids = {"by_hand": api.activity(f"{name}: lunch with Dana", 30), "in_calendar": api.activity(f"{name}: site visit", 33),
           "by_colleague": api.activity(f"{name}: quarterly review", 36)}
    api("POST", f"{SYNC}/connect", json={"provider": "memory", "account": account})
    assert api("POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "ok"
    occurrence = min((a["occurrence_id"], a["id"]) for a in api("GET", "/api/v1/activities") if a["read_only"])
    ids["occurrence"] = occurrence[1]
    api("DELETE", f"/api/v1/activities/{ids['by_hand']}")
    visit = next(e for e in server.events(account) if e.summary.endswith("site visit"))
    server.user_delete(account, "primary", visit.key.event_id)
    server.user_cancel_occurrence(account, "primary", series, occurrence[0])
    assert api("POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "ok"
    lose_change(server, account, dentist, f"{name}'s dentist (moved)")
    assert api("POST", f"{SYNC}/sync", params={"wait": "true"})["status"] == "ok"
    return ids


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_sync_everything_again_and_a_trash_that_says_why_with_restore_selected_and_all(
        browser: Browser, live_url: str, people, server: MemoryCalendarServer, size: str) -> None:  # type: ignore[no-untyped-def]
    people.add("alice@example.com", admin=True)
    people.add("bob@example.com")
    alice, bob = (Api(live_url, people.tokens[e]) for e in ("alice@example.com", "bob@example.com"))
    trashed = {"alice": prepare(alice, server, "alice-cal", "Alice"), "bob": prepare(bob, server, "bob-cal", "Bob")}
    alice("DELETE", f"/api/v1/activities/{trashed['bob']['by_colleague']}")  # an admin deletes one of bob's
    width = SIZES[size]["viewport"]["width"]  # type: ignore[index]

    for name in ("alice", "bob"):
        ids = trashed[name]
        title = name.capitalize()
        ctx = browser.new_context(timezone_id="UTC", locale="en-GB", **SIZES[size])  # type: ignore[arg-type]
        ctx.set_default_timeout(15_000)
        try:
            page = ctx.new_page()
            sign_in(page, live_url, f"{name}@example.com")
            page.goto(f"{live_url}/activities")
            expect(page.locator("table.list")).not_to_contain_text(f"{title}'s dentist (moved)")

            page.goto(f"{live_url}/settings/calendar-sync")
            page.get_by_role("button", name="Sync everything again").click()
            result = page.locator("#resync-result")
            # bob's: the deletion alice made of his activity reaches his calendar in the same run
            deleted = 1 if name == "bob" else 0
            expect(result).to_contain_text(f"Sync everything again: done — 1 from the calendar, 0 to the calendar, {deleted} deleted.",
                                           timeout=60_000)
            expect(page.locator("#run-log tbody tr").first).to_contain_text("resync")
            shoot(page, f"settings-resync-{name}-{size}", docs=(name, size) == ("alice", "desktop"))

            # Why each item is in the trash.
            rows = page.locator("#trash tbody tr")
            reason = lambda activity_id: page.locator(f'#trash tr[data-activity-id="{activity_id}"] .trash-reason')  # noqa: E731
            expect(reason(ids["by_hand"])).to_have_text("Deleted by you")
            expect(reason(ids["in_calendar"])).to_have_text("Deleted in your calendar")
            expect(reason(ids["occurrence"])).to_have_text("Occurrence cancelled in your calendar")
            expect(page.locator(f'#trash tr[data-activity-id="{ids["occurrence"]}"] input[name="ids"]')).to_be_disabled()
            if name == "bob":
                expect(reason(ids["by_colleague"])).to_have_text("Deleted by Alice")
                expect(rows).to_have_count(4)
            else:
                expect(rows).to_have_count(3)
            page.locator("#trash").scroll_into_view_if_needed()
            shoot(page, f"trash-reasons-{name}-{size}", docs=(name, size) in (("bob", "desktop"), ("bob", "phone")))
            assert page.evaluate("document.documentElement.scrollWidth") <= width

            # Restore selected: the one ticked comes back, the rest stay.
            page.get_by_role("checkbox", name=f"Select {title}: lunch with Dana").check()
            page.get_by_role("button", name="Restore selected").click()
            expect(page.locator("#trash")).to_contain_text("Restored 1 activity.")
            expect(page.locator(f'#trash tr[data-activity-id="{ids["by_hand"]}"]')).to_have_count(0)
            # Restore all: everything that can come back does; the cancelled occurrence stays.
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Restore all").click()
            expect(page.locator("#trash")).to_contain_text("Restored 2 activities." if name == "bob" else "Restored 1 activity.")
            expect(rows).to_have_count(1)
            expect(rows.first).to_have_attribute("data-activity-id", str(ids["occurrence"]))

            page.goto(f"{live_url}/activities")
            for subject in (f"{title}'s dentist (moved)", f"{title}: lunch with Dana", f"{title}: site visit"):
                expect(page.locator("table.list")).to_contain_text(subject)
        finally:
            ctx.close()
