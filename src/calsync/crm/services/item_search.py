"""Finding deals, persons and organizations by the start of their name, among those the viewer
may see: the list pages, the editor's type-ahead and GET /api/v1/items/search.

A range on the indexed (company_id, search_name) columns, so a search reads only the matching
index entries (about a millisecond at 100,000 items) instead of every row of the company."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from calsync.crm.errors import Invalid
from calsync.crm.permissions import visible_items_sql
from calsync.store.tables import Deal, Organization, Person, User

Model = type[Deal] | type[Person] | type[Organization]
KINDS: dict[str, Model] = {"deal": Deal, "person": Person, "organization": Organization}
# Above every code point: `prefix <= name < prefix + TOP` is "name starts with prefix" in byte order.
TOP = "\U0010ffff"
MAX_QUERY = 300


def model_for(kind: str) -> Model:
    """The table of a kind name, or a 422 that lists the kinds there are."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)} (got '{kind[:40]}')", field="kind")
    return KINDS[kind]


def normalise(text: str) -> str:
    """What is compared: the typed text, trimmed and lower-cased as `search_name` is."""
    cleaned = " ".join(text.split()).lower()
    if len(cleaned) > MAX_QUERY:
        raise Invalid(f"q has at most {MAX_QUERY} characters", field="q")
    return cleaned


@dataclass
class ItemFilters:
    """What the list pages filter by; all optional."""

    text: str = ""  # the start of the name
    owner_id: int | None = None
    status: str | None = None  # deals only: open, won, lost


def _conditions(model: Model, viewer: User, filters: ItemFilters) -> list[ColumnElement[bool]]:
    conditions = [visible_items_sql(model, viewer)]
    prefix = normalise(filters.text)
    if prefix:
        conditions += [model.search_name >= prefix, model.search_name < prefix + TOP]
    if filters.owner_id is not None:
        conditions.append(model.owner_id == filters.owner_id)
    if filters.status is not None and model is Deal:
        conditions.append(Deal.status == filters.status)
    return conditions


def search(
    session: Session, viewer: User, model: Model, filters: ItemFilters, *, limit: int = 20, start: int = 0
) -> tuple[list[Deal | Person | Organization], bool]:
    """One page of the visible items that match, by name; and whether more follow."""
    query = (
        select(model).where(*_conditions(model, viewer, filters))
        .order_by(model.company_id, model.search_name, model.id).offset(start).limit(limit + 1)
    )
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit  # type: ignore[return-value]
