"""The calendar as a rep reads it: overlapping activities side by side, free time drawn unlike
busy time, a lock on one's own private activities, and a details panel with the deal, person,
organization, place, join link and the start of the description, whose Mark done, Edit and
Delete buttons work. At desktop and phone sizes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import shoot, sign_in
from tests.web.helpers import activity, add_activity, add_item, next_monday

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LONG_DESCRIPTION = "Agenda: budget for next year, headcount, the new office. " * 12


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    ctx = browser.new_context(viewport=SIZES[request.param], timezone_id="UTC", locale="en-GB")  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    yield request.param, ctx.new_page()
    ctx.close()


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "not on screen"
    return found


def apart(a: dict[str, float], b: dict[str, float]) -> bool:
    """True when two boxes share no area (a pixel of border may touch)."""
    return (a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
            or a["y"] + a["height"] <= b["y"] + 1 or b["y"] + b["height"] <= a["y"] + 1)


def test_overlaps_side_by_side_free_busy_lock_and_details(sized: tuple[str, Page], live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    size, page = sized
    ann = people.add("ann@example.com")
    bob = people.add("bob@example.com")
    monday = next_monday()
    org = add_item(context, ann, "org", name="Globex Corporation")
    person = add_item(context, ann, "person", name="Hank Scorpio", org_id=org)
    deal = add_item(context, ann, "deal", title="Globex renewal", person_id=person, org_id=org)
    review = add_activity(
        context, ann, subject="Budget review", type="meeting", start=f"{monday}T10:00:00+00:00", end=f"{monday}T11:00:00+00:00",
        deal_id=deal, person_id=person, org_id=org, location="Globex HQ, room 4",
        conference_meeting_url="https://meet.example.com/budget-review", public_description=LONG_DESCRIPTION,
    )
    focus = add_activity(context, ann, subject="Focus time", type="task", busy=False,
                         start=f"{monday}T10:30:00+00:00", end=f"{monday}T11:30:00+00:00")
    dentist = add_activity(context, ann, subject="Dentist", type="meeting", private=True,
                           start=f"{monday}T13:00:00+00:00", end=f"{monday}T14:00:00+00:00")
    bobs_private = add_activity(context, bob, subject="Bob's interview", type="meeting", private=True,
                                start=f"{monday}T15:00:00+00:00", end=f"{monday}T16:00:00+00:00")

    sign_in(page, live_url, "ann@example.com")
    view = "timeGridWeek" if size == "desktop" else "timeGridDay"
    page.goto(f"{live_url}/calendar?view={view}&date={monday}&owner=everyone")
    ev = {i: page.locator(f'.fc-event[data-activity-id="{i}"]') for i in (review, focus, dentist, bobs_private)}
    for locator in ev.values():
        expect(locator).to_be_visible()

    # Overlapping activities sit side by side, each wide enough to read its title.
    first, second = box(ev[review]), box(ev[focus])
    assert apart(first, second), (first, second)
    assert min(first["width"], second["width"]) >= 40, (first, second)
    expect(ev[review].locator(".ev-title")).to_be_visible()
    expect(ev[focus].locator(".ev-title")).to_be_visible()

    # Free time looks different from busy time.
    style = "e => getComputedStyle(e).backgroundColor"
    assert ev[focus].evaluate(style) != ev[review].evaluate(style)
    assert ev[focus].evaluate(style) == "rgb(255, 255, 255)"
    assert "Free" in (ev[focus].get_attribute("title") or "")

    # The lock: on Ann's own private activity only, not on Bob's (a Busy block to her) or others.
    expect(ev[dentist].get_by_role("img", name="Private")).to_have_count(1)
    for other in (review, focus, bobs_private):
        expect(ev[other].locator(".ev-lock")).to_have_count(0)
    shoot(page, f"calendar-overlap-free-private-{size}")

    # The details panel.
    ev[review].locator(".ev-title").click()
    panel = page.locator("#details")
    expect(panel.locator("#d-title")).to_have_text("Budget review")
    expect(panel.locator("#d-deal")).to_have_text("Globex renewal")
    expect(panel.locator("#d-person")).to_have_text("Hank Scorpio")
    expect(panel.locator("#d-org")).to_have_text("Globex Corporation")
    expect(panel.locator("#d-location")).to_have_text("Globex HQ, room 4")
    expect(panel.get_by_role("link", name="Join the meeting")).to_have_attribute("href", "https://meet.example.com/budget-review")
    description = panel.locator("#d-description")
    expect(description).to_contain_text("Agenda: budget for next year")
    text = description.inner_text()
    assert text.endswith("…") and len(text) < len(LONG_DESCRIPTION.strip())
    panel.scroll_into_view_if_needed()
    shoot(page, f"calendar-details-panel-{size}", docs=True)

    # Mark done saves, and the event shows it.
    panel.get_by_role("button", name="Mark done").click()
    expect(panel.get_by_role("button", name="Mark not done")).to_be_visible()
    expect(ev[review]).to_have_class(re.compile(r"\bev-done\b"))
    assert activity(context, review)["done"] is True

    # Edit opens the editor of that activity.
    panel.get_by_role("link", name="Edit").click()
    page.wait_for_url(f"{live_url}/activities/{review}*")
    expect(page.get_by_label("Subject")).to_have_value("Budget review")

    # Delete asks, then moves it to the trash and off the calendar.
    page.go_back()
    ev[focus].locator(".ev-title").click()
    expect(panel.locator("#d-title")).to_have_text("Focus time")
    for row in ("deal", "person", "org", "location", "join"):
        expect(panel.locator(f'dd[data-row="{row}"]')).to_be_hidden()
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Delete").click()
    expect(ev[focus]).to_have_count(0)
    expect(panel).to_be_hidden()
    assert activity(context, focus)["deleted"] is True

    # Another user's private activity offers no buttons.
    ev[bobs_private].click()
    expect(panel.locator("#d-title")).to_have_text("Busy")
    for name in ("Mark done", "Delete"):
        expect(panel.get_by_role("button", name=name)).to_be_hidden()


def test_the_details_panel_and_legend_in_japanese(browser: Browser, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    """A Japanese-language user (the browser's language) gets the panel's labels and buttons in Japanese."""
    from tests.web.conftest import PASSWORD

    ken = people.add("ken@example.com", timezone="Asia/Tokyo")
    monday = next_monday()
    deal = add_item(context, ken, "deal", title="グローベックス更新")
    meeting = add_activity(context, ken, subject="予算会議", type="meeting", deal_id=deal, private=True,
                           conference_meeting_url="https://meet.example.com/yosan",
                           start=f"{monday}T01:00:00+00:00", end=f"{monday}T02:00:00+00:00")
    ctx = browser.new_context(viewport=SIZES["desktop"], timezone_id="Asia/Tokyo", locale="ja-JP")  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        page.goto(live_url + "/login")
        page.locator('input[name="email"]').fill("ken@example.com")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('button[type="submit"]').click()
        page.wait_for_url(live_url + "/calendar*")
        page.goto(f"{live_url}/calendar?view=timeGridWeek&date={monday}")
        event = page.locator(f'.fc-event[data-activity-id="{meeting}"]')
        expect(event.locator(".ev-lock")).to_have_count(1)
        event.locator(".ev-title").click()
        panel = page.locator("#details")
        expect(panel.locator('dt[data-row="deal"]')).to_have_text("取引")
        expect(panel.locator("#d-deal")).to_have_text("グローベックス更新")
        expect(panel.get_by_role("link", name="会議に参加")).to_have_attribute("href", "https://meet.example.com/yosan")
        expect(panel.get_by_role("button", name="完了にする")).to_be_visible()
        expect(panel.get_by_role("link", name="編集")).to_be_visible()
        # the longer Japanese legend lines wrap in the side column: nothing sticks out of the page
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["desktop"]["width"]
        shoot(page, "calendar-details-panel-ja", docs=True)
    finally:
        ctx.close()
