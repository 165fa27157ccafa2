"""What the list, calendar and editor pages show of activities, built only from `ActivityOut`
(the redacted view from `crm.redaction.activity_for_viewer`, via `activity_queries.present`):
a template never sees an `Activity` row, so it cannot print a private detail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.crm.permissions import can_see_item
from calsync.crm.schemas import MAX_ID, ActivityOut
from calsync.crm.services.accounts import company_users
from calsync.crm.services.activity_types import list_types
from calsync.store.tables import ActivityType, Deal, Organization, Person, User


@dataclass
class Lookups:
    """Names of the things activities refer to, limited to what the viewer may see."""

    types: dict[str, ActivityType]
    users: dict[int, User]
    deals: dict[int, str]
    persons: dict[int, str]
    orgs: dict[int, str]

    def type_name(self, key: str) -> str:
        return self.types[key].name if key in self.types else ("Busy" if key == "busy" else key)


def _names(session: Session, viewer: User, model: type[Deal] | type[Person] | type[Organization], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.scalars(select(model).where(model.id.in_(ids)))
    label = "title" if model is Deal else "name"
    return {row.id: getattr(row, label) for row in rows if can_see_item(viewer, row)}


def item_names(session: Session, viewer: User, model: type[Deal] | type[Person] | type[Organization], ids: set[int]) -> dict[int, str]:
    """id -> name of those of these items the viewer may see (the others are left out)."""
    return _names(session, viewer, model, {i for i in ids if i})


def lookups(session: Session, viewer: User, items: Sequence[ActivityOut] = ()) -> Lookups:
    return Lookups(
        types={t.key: t for t in list_types(session, viewer)},
        users={u.id: u for u in company_users(session, viewer)},
        deals=_names(session, viewer, Deal, {a.deal_id for a in items if a.deal_id}),
        persons=_names(session, viewer, Person, {a.person_id for a in items if a.person_id}),
        orgs=_names(session, viewer, Organization, {a.org_id for a in items if a.org_id}),
    )


def ids(values: Iterable[str]) -> list[int]:
    """Form values that are ids (1 .. the largest database integer); anything else is ignored."""
    return [int(v) for v in values if v.isdigit() and 1 <= int(v) <= MAX_ID]
