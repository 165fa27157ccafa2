"""Test data made through the CRM services (the same path the pages and the API use)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services import activities
from calsync.store.db import session_scope
from calsync.store.tables import Activity, User
from calsync.web.context import AppContext


def next_monday(weeks: int = 1) -> dt.date:
    """A Monday in the future, so that sync treats items there as upcoming."""
    today = dt.date.today()
    return today + dt.timedelta(days=(7 - today.weekday()) + 7 * (weeks - 1))


def add_activity(context: AppContext, user_id: int, *, source: str = "api", read_only: bool = False,
                 origin: str = "crm", series_uid: str | None = None, occurrence_id: str | None = None,
                 **fields: Any) -> int:
    with session_scope(context.sessions) as session:
        actor = session.get(User, user_id)
        assert actor is not None
        created = activities.create_activity(
            session, actor, ActivityCreate(**fields), source=source, read_only=read_only, origin=origin,  # type: ignore[arg-type]
            series_uid=series_uid, occurrence_id=occurrence_id,
        )
        return created.id


def activity(context: AppContext, activity_id: int) -> dict[str, Any]:
    """The stored row's plain fields (what the database holds after the browser acted)."""
    with session_scope(context.sessions) as session:
        row = session.get(Activity, activity_id)
        assert row is not None
        return {c.name: getattr(row, c.name) for c in Activity.__table__.columns}


def add_item(context: AppContext, user_id: int, kind: str, **fields: Any) -> int:
    """A deal, person or organization made through the CRM's item service."""
    from calsync.crm.schemas import DealIn, OrganizationIn, PersonIn
    from calsync.crm.services import items
    from calsync.store.tables import Deal, Organization, Person

    model, schema = {"deal": (Deal, DealIn), "person": (Person, PersonIn), "org": (Organization, OrganizationIn)}[kind]
    with session_scope(context.sessions) as session:
        actor = session.get(User, user_id)
        assert actor is not None
        return items.create_item(session, actor, model, schema(**fields)).id


def pick(page: Any, label: str, typed: str, name: str) -> None:
    """Chooses an item in a type-ahead picker the way a user does: type, click the match."""
    from playwright.sync_api import expect

    field = page.get_by_role("combobox", name=label, exact=True)
    field.fill(typed)
    page.locator(f'[role="listbox"][aria-label="{label} matches"]').get_by_role("option", name=name).click()
    expect(field).to_have_value(name)


def add_participant(page: Any, typed: str, name: str) -> None:
    """Adds a participant in the editor's type-ahead: type, click the match, a chip appears."""
    from playwright.sync_api import expect

    field = page.get_by_role("combobox", name="Participants", exact=True)
    field.fill(typed)
    page.locator("#participants-options").get_by_role("option", name=name).click()
    expect(page.locator("#participants-chosen")).to_contain_text(name)
    expect(field).to_have_value("")
