"""Deals, people and organizations in the browser: list pages with search and filters, the
detail page with the item's activities and their sync status, create and edit forms, what
another user may not see, and the editor's type-ahead pickers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from calsync.store.db import session_scope
from calsync.store.tables import Deal, Organization, Person
from tests.web.conftest import shoot, sign_in
from tests.web.helpers import activity, add_activity, add_item, next_monday, pick
from tests.web.test_activities import _connect_fake_account, _link

pytestmark = pytest.mark.browser


def _at(day: dt.date, hour: int) -> dict[str, str]:
    return {"start": f"{day}T{hour:02d}:00:00+00:00", "end": f"{day}T{hour:02d}:30:00+00:00"}


def _names(page: Page) -> list[str]:
    return page.locator("#items tbody tr[data-item-id] td:first-child").all_inner_texts()


def test_deal_list_searches_filters_pages_and_the_detail_lists_activities_with_sync_status(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    alice = people.add("alice@acme.test")
    bob = people.add("bob@acme.test")
    org = add_item(context, alice, "org", name="Globex")
    person = add_item(context, alice, "person", name="Hank Scorpio", org_id=org)
    renewal = add_item(context, alice, "deal", title="Globex renewal", value=12000, currency="USD", person_id=person, org_id=org)
    add_item(context, alice, "deal", title="Globex expansion", status="won")
    add_item(context, alice, "deal", title="Initech upgrade")
    for n in range(52):
        add_item(context, bob, "deal", title=f"Bulk deal {n:02d}")
    monday = next_monday()
    _connect_fake_account(context, alice, push_types=["meeting"])
    meeting = add_activity(context, alice, subject="Renewal meeting", type="meeting", deal_id=renewal, **_at(monday, 9))
    _link(context, meeting)
    call = add_activity(context, alice, subject="Renewal call", type="call", deal_id=renewal, **_at(monday, 11))
    hidden = add_activity(context, bob, subject="Bob's private prep", type="call", deal_id=renewal, private=True, **_at(monday, 13))
    add_activity(context, alice, subject="Unrelated task", type="task", **_at(monday, 15))

    sign_in(page, live_url, "alice@acme.test")
    page.get_by_role("link", name="Deals").click()
    expect(page.get_by_role("heading", name="Deals")).to_be_visible()
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(50)
    expect(page.locator("#next-page")).to_be_visible()

    page.get_by_label("Search").fill("GLO")  # the start of the title, any case, as one types
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(2)
    assert _names(page) == ["Globex expansion", "Globex renewal"]
    expect(page.locator(f'tr[data-item-id="{renewal}"]')).to_contain_text("12,000 USD")
    expect(page.locator(f'tr[data-item-id="{renewal}"]')).to_contain_text("Hank Scorpio")
    shoot(page, "deals-list", docs=True)
    expect(page).to_have_url(re.compile(r"/deals\?q=GLO&"))  # the search is in the address, to share or reload
    page.get_by_label("Status").select_option("won")
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(1)
    assert _names(page) == ["Globex expansion"]

    page.goto(live_url + "/deals?q=bulk")
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(50)
    page.get_by_label("Owner").select_option("Me")
    expect(page.locator("#items")).to_contain_text("No deals match “bulk”")
    page.get_by_label("Owner").select_option("Bob")
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(50)
    expect(page).to_have_url(re.compile(rf"q=bulk&owner={bob}"))
    page.locator("#next-page").click()
    expect(page).to_have_url(re.compile(rf"q=bulk&owner={bob}&start=50"))
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(2)
    assert _names(page) == ["Bulk deal 50", "Bulk deal 51"]
    page.get_by_label("Search").fill("nothing like this")
    expect(page.locator("#items")).to_contain_text("No deals match")

    page.goto(live_url + "/deals?q=globex+r")
    page.get_by_role("link", name="Globex renewal").click()
    expect(page.locator("#item-name")).to_have_text("Globex renewal")
    facts = page.locator("#item-facts")
    expect(facts).to_contain_text("12,000 USD")
    expect(facts.get_by_role("link", name="Hank Scorpio")).to_have_attribute("href", f"/persons/{person}")
    expect(facts.get_by_role("link", name="Globex")).to_have_attribute("href", f"/organizations/{org}")
    rows = page.locator("#item-activities tbody tr[data-activity-id]")
    expect(rows).to_have_count(3)
    expect(page.locator(f"#activity-{meeting} .sync")).to_have_attribute("data-sync-status", "synced")
    expect(page.locator(f"#activity-{meeting} .sync")).to_contain_text("Synced")
    expect(page.locator(f"#activity-{call} .sync")).to_have_attribute("data-sync-status", "not_synced")
    # Bob's private activity: a busy block, through the same redaction as every read path.
    expect(page.locator(f"#activity-{hidden}")).to_contain_text("Busy")
    expect(page.locator("#item-activities")).not_to_contain_text("Bob's private prep")
    expect(page.locator("#item-activities")).not_to_contain_text("Unrelated task")
    shoot(page, "deal-detail", docs=True)

    # The person's and the organization's pages list what links to them.
    facts.get_by_role("link", name="Hank Scorpio").click()
    expect(page.locator("#item-facts")).to_contain_text("Globex")
    expect(page.locator("#item-activities")).to_contain_text("No activities you can see")
    shoot(page, "person-detail", docs=True)
    page.goto(live_url + f"/organizations/{org}")
    expect(page.locator("#item-name")).to_have_text("Globex")
    page.goto(live_url + "/persons")
    expect(page.locator(f'tr[data-item-id="{person}"]')).to_contain_text("Globex")
    shoot(page, "persons-list", docs=True)


def test_create_and_edit_forms_for_organization_person_and_deal(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    alice = people.add("alice@acme.test")
    people.add("bob@acme.test")
    sign_in(page, live_url, "alice@acme.test")

    page.goto(live_url + "/organizations")
    page.get_by_role("link", name="+ New organization").click()
    page.get_by_label("Name").fill("Umbrella Corp")
    page.get_by_label("Address").fill("1 Raccoon Street")
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    org_id = int(page.url.split("/organizations/")[1].split("?")[0])

    page.goto(live_url + "/persons/new")
    page.get_by_label("Name").fill("Ada Wong")
    page.get_by_label("E-mail").fill("ada@umbrella.example, not-an-address")
    pick(page, "Organization", "umb", "Umbrella Corp")
    page.get_by_role("button", name="Create person").click()
    expect(page.locator("#form-error")).to_contain_text("E-mail")  # the bad address is refused, said so
    expect(page.get_by_label("Name")).to_have_value("Ada Wong")  # nothing typed is lost
    expect(page.get_by_role("combobox", name="Organization")).to_have_value("Umbrella Corp")
    page.get_by_label("E-mail").fill("ada@umbrella.example")
    page.get_by_role("button", name="Create person").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    person_id = int(page.url.split("/persons/")[1].split("?")[0])

    page.goto(live_url + "/deals/new")
    page.get_by_label("Title").fill("Umbrella takeover")
    page.get_by_label("Value").fill("250000")
    page.get_by_label("Currency").fill("usd")
    pick(page, "Person", "ada", "Ada Wong")
    pick(page, "Organization", "UMBRELLA", "Umbrella Corp")
    expect(page.locator("#person_id-options")).to_be_hidden()  # picking closed it for good
    page.get_by_label("Only the owner").check()
    shoot(page, "deal-form", docs=True)
    page.get_by_role("button", name="Create deal").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    deal_id = int(page.url.split("/deals/")[1].split("?")[0])
    expect(page.locator("#item-facts")).to_contain_text("250,000 USD")
    expect(page.locator("#item-facts")).to_contain_text("Only the owner")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("combobox", name="Person")).to_have_value("Ada Wong")
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#form-error")).to_contain_text("Title")
    expect(page.locator("#form-error")).to_have_count(1)
    page.get_by_label("Title").fill("Umbrella takeover (signed)")
    page.get_by_label("Status").select_option("won")
    page.get_by_role("combobox", name="Person").fill("")  # cleared: no person any more
    page.get_by_label("Everyone in the company").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    with session_scope(context.sessions) as session:
        deal = session.get(Deal, deal_id)
        assert (deal.title, deal.status, deal.value, deal.currency) == ("Umbrella takeover (signed)", "won", 250000, "USD")
        assert (deal.person_id, deal.org_id, deal.visibility, deal.owner_id) == (None, org_id, "everyone", alice)
        person = session.get(Person, person_id)
        assert person.emails == ["ada@umbrella.example"] and person.org_id == org_id
        assert session.get(Organization, org_id).address == "1 Raccoon Street"

    # Another user sees the deal (everyone) but cannot change it: the form says so, no Save.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_url, "bob@acme.test")
    page.goto(live_url + f"/deals/{deal_id}")
    expect(page.locator("#edit-item")).to_have_count(0)
    page.goto(live_url + f"/deals/{deal_id}/edit")
    expect(page.locator("#read-only-notice")).to_contain_text("owner or an admin")
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)


def test_bob_never_sees_alices_owner_only_deal(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    alice = people.add("alice@acme.test")
    people.add("bob@acme.test")
    secret = add_item(context, alice, "deal", title="Secret merger", visibility="owner")
    add_item(context, alice, "deal", title="Second deal")
    linked = add_activity(context, alice, subject="Merger talks", type="meeting", deal_id=secret, **_at(next_monday(), 10))

    sign_in(page, live_url, "bob@acme.test")
    page.goto(live_url + "/deals")
    expect(page.locator("#items")).to_contain_text("Second deal")
    expect(page.locator("#items")).not_to_contain_text("Secret merger")
    page.get_by_label("Search").fill("se")
    expect(page.locator("#items tbody tr[data-item-id]")).to_have_count(1)
    assert _names(page) == ["Second deal"]

    response = page.goto(live_url + f"/deals/{secret}")
    assert response is not None and response.status == 404
    expect(page.locator("main")).not_to_contain_text("Secret merger")
    response = page.goto(live_url + f"/deals/{secret}/edit")
    assert response is not None and response.status == 404
    found = page.request.get(live_url + "/api/v1/items/search?kind=deal&q=secret")
    assert found.ok and found.json()["data"] == []
    response = page.goto(live_url + f"/activities/{linked}")  # an activity linked to it is hidden too
    assert response is not None and response.status == 404

    page.goto(live_url + "/activities/new")
    field = page.get_by_role("combobox", name="Deal", exact=True)
    field.fill("secr")
    expect(page.locator("#deal_id-options")).to_contain_text("Nothing starts with “secr”")
    field.fill("s")
    expect(page.locator("#deal_id-options [role=option]")).to_have_count(1)
    expect(page.locator("#deal_id-options")).to_contain_text("Second deal")
    # A hand-made form cannot link to it either.
    token = page.locator('input[name="csrf_token"]').first.input_value()
    posted = page.request.post(live_url + "/deals/new", form={"csrf_token": token, "name": "Mine", "org_id": "", "person_id": "", "visibility": "everyone"})
    assert posted.ok
    posted = page.request.post(live_url + f"/deals/{secret}/edit", form={"csrf_token": token, "name": "Taken"})
    assert posted.status == 404


def test_editor_type_ahead_picks_a_deal_from_many(page: Page, live_url: str, people, context) -> None:  # type: ignore[no-untyped-def]
    alice = people.add("alice@acme.test")
    for n in range(30):
        add_item(context, alice, "deal", title=f"Acme deal {n:02d}")
    wanted = add_item(context, alice, "deal", title="Zenith contract")
    own_only = add_item(context, alice, "deal", title="Zenith side deal", visibility="owner")

    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, live_url, "alice@acme.test")
    page.goto(live_url + "/activities/new")
    page.get_by_label("Subject").fill("Zenith kick-off")
    field = page.get_by_role("combobox", name="Deal", exact=True)
    field.fill("acme")
    expect(page.locator("#deal_id-options [role=option]")).to_have_count(20)  # the first page, not all 30
    field.fill("zen")
    expect(page.locator("#deal_id-options [role=option]")).to_have_count(2)
    expect(page.locator("#deal_id-options")).to_contain_text("Zenith side deal (only the owner sees it)")
    expect(field).to_have_attribute("aria-expanded", "true")
    shoot(page, "editor-type-ahead", full_page=False, docs=True)
    field.press("ArrowDown")
    field.press("Enter")
    expect(field).to_have_value("Zenith contract")
    expect(page.locator("#deal_id-options")).to_be_hidden()
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    created = int(page.url.split("/activities/")[1].split("?")[0])
    assert activity(context, created)["deal_id"] == wanted
    expect(page.get_by_role("combobox", name="Deal", exact=True)).to_have_value("Zenith contract")

    # From the deal's page: "+ Activity" starts the editor with the deal picked.
    page.goto(live_url + f"/deals/{own_only}")
    page.get_by_role("link", name="+ Activity").click()
    expect(page.get_by_role("combobox", name="Deal", exact=True)).to_have_value("Zenith side deal")
    page.get_by_label("Subject").fill("Side talk")
    page.get_by_role("button", name="Create activity").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    page.goto(live_url + f"/deals/{wanted}")
    expect(page.locator("#item-activities")).to_contain_text("Zenith kick-off")
    expect(page.locator("#item-activities")).not_to_contain_text("Side talk")
    assert not violations, violations  # the pickers run under the strict policy (own script files only)
