"""Issue 9, point 7: a change to a linked deal, person or organization reaches the event's
generated deal/contact block at the next run, and only then (no write when nothing shown changed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from calsync.crm.schemas import DealIn, DealUpdate, OrganizationIn, OrganizationUpdate, PersonIn, PersonUpdate
from calsync.crm.services import items
from calsync.store.tables import Deal, Organization, Person, User
from tests.sync.harness import Harness

A = "alice@example.com"


def _item(h: Harness, model: Any, data: BaseModel) -> int:
    with h.session() as s:
        return items.create_item(s, s.get(User, h.users[A]), model, data).id


def _change(h: Harness, model: Any, item_id: int, data: BaseModel) -> None:
    with h.session() as s:
        items.update_item(s, s.get(User, h.users[A]), model, item_id, data)


def test_renaming_a_linked_deal_person_or_organization_updates_the_event_at_the_next_run(h: Harness) -> None:
    h.connect(A, include_details=True)
    deal = _item(h, Deal, DealIn(title="Old deal"))
    org = _item(h, Organization, OrganizationIn(name="Old Org"))
    person = _item(h, Person, PersonIn(name="Pat Old", emails=["pat@oldcorp.com"], phones=["+1 555 0100"]))
    h.create(A, "Call", deal_id=deal, person_id=person, org_id=org)
    h.sync(A)
    (event,) = h.events(A)
    assert "Deal: Old deal" in event.description and "Organization: Old Org" in event.description

    _change(h, Deal, deal, DealUpdate(title="New deal"))
    assert h.sync(A).pushed == 1
    (event,) = h.events(A)
    assert "Deal: New deal" in event.description and "Old deal" not in event.description

    _change(h, Person, person, PersonUpdate(name="Pat New", emails=["pat@newcorp.com"]))
    _change(h, Organization, org, OrganizationUpdate(name="New Org"))
    assert h.sync(A).pushed == 1
    (event,) = h.events(A)
    assert "Contact: Pat New (pat@newcorp.com, +1 555 0100)" in event.description
    assert "Organization: New Org" in event.description
    assert h.sync(A).pushed == 0  # nothing new: nothing written


def test_a_linked_item_change_is_not_pushed_when_the_block_is_off(h: Harness) -> None:
    h.connect(A)
    deal = _item(h, Deal, DealIn(title="Old deal"))
    h.create(A, "Call", deal_id=deal)
    h.sync(A)
    _change(h, Deal, deal, DealUpdate(title="New deal"))
    assert h.sync(A).pushed == 0
    assert "deal" not in h.events(A)[0].description.lower()


def test_a_calendar_edit_is_kept_when_a_linked_deal_is_renamed_after_it_and_both_reach_the_event(h: Harness) -> None:
    from calsync.sync.model import Event

    h.connect(A, include_details=True)
    deal = _item(h, Deal, DealIn(title="Old deal"))
    aid = h.create(A, "Call", deal_id=deal)
    h.sync(A)
    (event,) = h.events(A)
    h.server.user_put(A, Event(**{**vars(event), "summary": "Call (moved by the client)"}))
    _change(h, Deal, deal, DealUpdate(title="New deal"))  # later than the calendar edit

    h.sync(A)
    assert h.activity(aid).subject == "Call (moved by the client)"  # the calendar's edit is not overwritten
    h.sync(A)
    (event,) = h.events(A)
    assert event.summary == "Call (moved by the client)" and "Deal: New deal" in event.description
    assert h.sync(A).pushed == 0
