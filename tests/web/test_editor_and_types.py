"""Admin › Activity types (add, rename, recolour, deactivate) and the editor with every field:
a custom type, deal/person/organization links, participants, attendees, all-day, privacy,
editing and deleting (to the trash, restored from Settings › Calendar sync)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import shoot, sign_in
from tests.web.helpers import activity, add_item, add_participant, next_monday, pick

pytestmark = pytest.mark.browser


def test_admin_manages_custom_activity_types(page: Page, live_url: str, people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com", admin=True)
    people.add("ben@example.com")
    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/admin/activity-types")
    form = page.locator("#add-type")
    form.get_by_label("Key").fill("demo")
    form.get_by_label("Name").fill("Product demo")
    form.get_by_label("Colour").fill("#d35400")
    form.get_by_label("Icon").select_option("monitor")
    form.get_by_role("button", name="Add type").click()
    row = page.locator('tr[data-key="demo"]')
    expect(row.get_by_label("Name of demo")).to_have_value("Product demo")
    form.get_by_label("Key").fill("demo")
    form.get_by_label("Name").fill("Again")
    form.get_by_role("button", name="Add type").click()
    expect(page.get_by_role("alert")).to_contain_text("exists already")

    row = page.locator('tr[data-key="demo"]')
    row.get_by_label("Name of demo").fill("Live demo")
    row.get_by_label("Name of demo").press("Tab")
    expect(page.locator('tr[data-key="demo"] .saved')).to_have_text("Saved")
    page.locator('tr[data-key="lunch"]').get_by_label("lunch active").uncheck()
    expect(page.locator('tr[data-key="lunch"] .saved')).to_have_text("Saved")
    shoot(page, "admin-activity-types")
    page.reload()
    expect(page.locator('tr[data-key="demo"]').get_by_label("Name of demo")).to_have_value("Live demo")
    expect(page.locator('tr[data-key="lunch"]').get_by_label("lunch active")).not_to_be_checked()

    # The editor offers the custom type and no longer the deactivated one.
    page.goto(live_url + "/activities/new")
    options = page.get_by_label("Type").locator("option").all_inner_texts()
    assert "Live demo (custom)" in options and "Lunch" not in options

    # A non-admin sees the types but cannot change them.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_url, "ben@example.com")
    page.goto(live_url + "/admin/activity-types")
    expect(page.locator("#types")).to_contain_text("Live demo")
    expect(page.locator("#add-type")).to_have_count(0)
    expect(page.get_by_role("link", name="Activity types")).to_have_count(0)


def test_editor_sets_every_field_edits_and_deletes(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    ann = people.add("ann@example.com", admin=True)
    people.add("ben@example.com")
    org = add_item(context, ann, "org", name="Globex")
    person = add_item(context, ann, "person", name="Hank Scorpio", emails=["hank@globex.example"], org_id=org)
    other = add_item(context, ann, "person", name="Mindy Simmons")
    deal = add_item(context, ann, "deal", title="Globex expansion", value=50000, person_id=person, org_id=org)
    monday = next_monday()

    sign_in(page, live_url, "ann@example.com")
    page.goto(live_url + "/activities/new")
    page.get_by_label("Subject").fill("Contract signing")
    page.get_by_label("Type").select_option("deadline")
    owners = page.get_by_label("Owner", exact=True).locator("option").all_inner_texts()
    assert owners == ["Ann", "Ben"]  # an admin may give activities to others
    page.get_by_label("All day").check()
    expect(page.get_by_label("Start time")).to_be_hidden()
    page.get_by_label("Start date").fill(monday.isoformat())
    page.get_by_label("End date").fill(monday.isoformat())
    page.get_by_label("Busy (blocks time)").uncheck()
    pick(page, "Deal", "globex", "Globex expansion")
    pick(page, "Person", "HANK", "Hank Scorpio")
    pick(page, "Organization", "Glo", "Globex")
    add_participant(page, "hank", "Hank Scorpio")
    add_participant(page, "MIN", "Mindy Simmons")
    add_participant(page, "hank", "Hank Scorpio")  # twice is once
    page.get_by_label("Location", exact=True).fill("Globex HQ")
    page.get_by_label("Conference URL").fill("https://meet.example.com/globex")
    page.get_by_label("Description").fill("Bring two copies")
    page.get_by_label("Note").fill("Legal approved on Friday")
    page.get_by_role("button", name="+ Add attendee").click()
    page.get_by_role("button", name="+ Add attendee").click()
    page.get_by_label("Attendee e-mail").nth(0).fill("hank@globex.example")
    page.get_by_label("Attendee name").nth(0).fill("Hank Scorpio")
    page.get_by_label("Response").nth(0).select_option("accepted")
    page.get_by_label("organizer").nth(0).check()
    page.get_by_label("Attendee e-mail").nth(1).fill("not-an-address")
    page.get_by_label("Only the owner").check()
    page.get_by_label("Private: others see only").check()
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#form-error")).to_contain_text("attendee 2")  # the bad address is named
    expect(page.get_by_label("Subject")).to_have_value("Contract signing")  # nothing typed is lost
    page.locator(".attendee-row").nth(1).get_by_role("button", name="Remove attendee").click()
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    shoot(page, "activity-editor")

    created = int(page.url.split("/activities/")[1].split("?")[0])
    stored = activity(context, created)
    assert stored["owner_id"] == ann and stored["all_day"] and stored["start_date"] == monday
    assert stored["end_date"] == monday.fromordinal(monday.toordinal() + 1)  # exclusive end
    assert (stored["deal_id"], stored["person_id"], stored["org_id"]) == (deal, person, org)
    assert stored["busy"] is False and stored["visibility"] == "owner" and stored["private"] is True
    assert stored["conference_url"] == "https://meet.example.com/globex" and stored["note"] == "Legal approved on Friday"
    expect(page.get_by_label("Attendee e-mail")).to_have_value("hank@globex.example")
    expect(page.get_by_label("Response")).to_have_value("accepted")
    expect(page.get_by_label("organizer")).to_be_checked()
    chosen = page.locator('#participants-chosen input[name="participants"]')
    assert sorted(chosen.evaluate_all("inputs => inputs.map(i => i.value)")) == sorted([str(person), str(other)])
    expect(page.locator("#participants-chosen li")).to_have_text(["Hank Scorpio ✕", "Mindy Simmons ✕"])

    # Edit: a timed activity in Berlin time, visible to everyone.
    page.get_by_label("Everyone in the company").check()
    page.get_by_label("Private: others see only").uncheck()
    page.get_by_label("All day").uncheck()
    page.get_by_label("Start time").fill("15:00")
    page.get_by_label("End time").fill("15:30")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Subject").fill("Contract signing (moved)")
    page.get_by_role("button", name="Remove Mindy Simmons").click()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    stored = activity(context, created)
    assert stored["subject"] == "Contract signing (moved)" and stored["all_day"] is False
    berlin = dt.datetime.combine(monday, dt.time(15), ZoneInfo("Europe/Berlin"))
    assert stored["timezone"] == "Europe/Berlin" and stored["start_at"] == berlin.astimezone(dt.timezone.utc)
    assert stored["visibility"] == "everyone" and stored["private"] is False
    expect(page.locator('#participants-chosen input[name="participants"]')).to_have_count(1)
    expect(page.locator("#participants-chosen")).to_contain_text("Hank Scorpio")

    # Delete goes to the trash; Settings › Calendar sync restores it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(live_url + "/activities")
    assert activity(context, created)["deleted"] is True
    page.goto(live_url + "/settings/calendar-sync")
    trash_row = page.locator(f'#trash tr[data-activity-id="{created}"]')
    expect(trash_row).to_contain_text("Contract signing (moved)")
    trash_row.get_by_role("button", name="Restore").click()
    expect(page.locator("#trash")).to_contain_text("Restored: Contract signing (moved)")
    assert activity(context, created)["deleted"] is False
