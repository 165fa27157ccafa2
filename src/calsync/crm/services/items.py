"""Deals, persons and organizations: owned, visible to the owner or to everyone in the company."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from calsync.crm.errors import Forbidden, Invalid, NotFound
from calsync.crm.permissions import can_see_item, visible_items_sql
from calsync.crm.services.accounts import user_in_company
from calsync.crm.services.linked import SHOWN_FIELDS, touch_linked
from calsync.store.tables import Deal, Organization, Person, PersonEmail, User

Item = TypeVar("Item", Deal, Person, Organization)
NAMES = {Deal: "deal", Person: "person", Organization: "organization"}
LINK_FIELDS = {"deal_id": Deal, "person_id": Person, "org_id": Organization}


def label_of(item: Deal | Person | Organization) -> str:
    """What an item is called: a deal's title, a person's or organization's name."""
    return item.title if isinstance(item, Deal) else item.name


def get_visible(session: Session, viewer: User, model: type[Item], item_id: int) -> Item:
    """The item if the viewer may see it; 404 otherwise (not 403: existence is not disclosed)."""
    found = session.get(model, item_id)
    if found is None or not can_see_item(viewer, found):
        raise NotFound(f"there is no {NAMES[model]} {item_id} that you can see")
    return found


def names_for(session: Session, viewer: User, rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Names of the deals, persons and organizations these activity rows link to, keyed by id,
    for the items the viewer may see only (the calendar's details panel shows them; an item the
    viewer may not see stays nameless, as on every other page)."""
    wanted = {"deals": (Deal, "deal_id"), "persons": (Person, "person_id"), "orgs": (Organization, "org_id")}
    names: dict[str, dict[str, str]] = {}
    for key, (model, field) in wanted.items():
        ids = {row[field] for row in rows if row.get(field)}
        found = session.scalars(select(model).where(model.id.in_(ids))) if ids else []
        names[key] = {str(item.id): label_of(item) for item in found if can_see_item(viewer, item)}
    return names


def linkable(session: Session, viewer: User, field: str, item_id: int | None) -> None:
    """Checks a link field (deal_id, person_id, org_id) points at an item the viewer can see."""
    if item_id is None:
        return
    model = LINK_FIELDS[field]
    found = session.get(model, item_id)
    if found is None or not can_see_item(viewer, found):
        raise Invalid(f"{field}: there is no {NAMES[model]} {item_id} that you can see", field=field)


def list_visible(session: Session, viewer: User, model: type[Item], *, limit: int = 100, start: int = 0) -> tuple[list[Item], bool]:
    query = select(model).where(visible_items_sql(model, viewer)).order_by(model.id).offset(start).limit(limit + 1)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def _check_links(session: Session, viewer: User, values: dict[str, Any]) -> None:
    for field in ("person_id", "org_id"):
        if field in values:
            linkable(session, viewer, field, values[field])
    if "owner_id" in values and values["owner_id"] is not None:
        if values["owner_id"] != viewer.id and not viewer.is_admin:
            raise Forbidden("only an admin can give an item to another owner")
        user_in_company(session, viewer, values["owner_id"])


def _sync_person_emails(session: Session, person: Person) -> None:
    """Rewrites the person's rows in `person_emails` (lowercased, each address once) from
    `Person.emails`, so attendee matching stays one indexed lookup."""
    session.execute(delete(PersonEmail).where(PersonEmail.person_id == person.id))
    seen: set[str] = set()
    for email in person.emails or []:
        lowered = email.lower()
        if lowered not in seen:
            seen.add(lowered)
            session.add(PersonEmail(company_id=person.company_id, person_id=person.id, email=lowered))


def create_item(session: Session, viewer: User, model: type[Item], data: BaseModel) -> Item:
    values = data.model_dump()
    _check_links(session, viewer, values)
    values["owner_id"] = values.get("owner_id") or viewer.id
    created = model(company_id=viewer.company_id, **values)
    session.add(created)
    session.flush()
    if isinstance(created, Person):
        _sync_person_emails(session, created)
        session.flush()
    return created


def update_item(session: Session, viewer: User, model: type[Item], item_id: int, data: BaseModel) -> Item:
    found = get_visible(session, viewer, model, item_id)
    if found.owner_id != viewer.id and not viewer.is_admin:
        raise Forbidden(f"only the {NAMES[model]}'s owner or an admin can change it")
    values = data.model_dump(exclude_unset=True)
    for key in ("name", "title", "visibility", "owner_id"):
        if key in values and values[key] is None:
            raise Invalid(f"{key} cannot be null", field=key)
    _check_links(session, viewer, values)
    shown_changed = any(getattr(found, key) != value for key, value in values.items() if key in SHOWN_FIELDS[model])
    access_changed = any(getattr(found, key) != value for key, value in values.items() if key in ("visibility", "owner_id"))
    for key, value in values.items():
        setattr(found, key, value)
    found.search_name = label_of(found).lower()
    session.flush()
    if isinstance(found, Person) and "emails" in values:
        _sync_person_emails(session, found)
    if shown_changed:  # what linked activities show or push, or who sees them, changed
        touch_linked(session, viewer, model, found.id, access=access_changed)
    session.flush()
    return found


def delete_item(session: Session, viewer: User, model: type[Item], item_id: int) -> None:
    found = get_visible(session, viewer, model, item_id)
    if found.owner_id != viewer.id and not viewer.is_admin:
        raise Forbidden(f"only the {NAMES[model]}'s owner or an admin can delete it")
    touch_linked(session, viewer, model, found.id, unlink=True)
    session.delete(found)
    session.flush()
