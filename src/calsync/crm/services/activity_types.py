"""Activity types: six built in per company, plus custom ones admins add, rename, deactivate."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.crm.errors import Conflict, Forbidden, Invalid, NotFound
from calsync.crm.schemas import ActivityTypeIn, ActivityTypeUpdate
from calsync.store.tables import ActivityType, User

DEFAULT_TYPES: list[tuple[str, str, str, str]] = [
    ("call", "Call", "phone", "#2e86de"),
    ("meeting", "Meeting", "users", "#8e44ad"),
    ("task", "Task", "check", "#27ae60"),
    ("deadline", "Deadline", "flag", "#c0392b"),
    ("email", "Email", "mail", "#f39c12"),
    ("lunch", "Lunch", "utensils", "#16a085"),
]


def seed_default_types(session: Session, company_id: int) -> None:
    for order, (key, name, icon, color) in enumerate(DEFAULT_TYPES):
        session.add(ActivityType(company_id=company_id, key=key, name=name, icon=icon, color=color, order_nr=order))
    session.flush()


def list_types(session: Session, viewer: User, include_inactive: bool = True) -> list[ActivityType]:
    query = select(ActivityType).where(ActivityType.company_id == viewer.company_id)
    if not include_inactive:
        query = query.where(ActivityType.active.is_(True))
    return list(session.scalars(query.order_by(ActivityType.order_nr, ActivityType.id)))


def type_by_key(session: Session, company_id: int, key: str, *, field: str = "type", active_only: bool = True) -> ActivityType:
    found = session.scalar(select(ActivityType).where(ActivityType.company_id == company_id, ActivityType.key == key))
    if found is None:
        raise Invalid(f"there is no activity type '{key}': use one of the keys from GET /api/v1/activityTypes", field=field)
    if active_only and not found.active:
        raise Invalid(f"the activity type '{key}' is deactivated: pick an active one", field=field)
    return found


DEFAULT_IMPORT_TYPE = "meeting"


def type_for_import(session: Session, company_id: int, key: str) -> ActivityType | None:
    """The type an event from a calendar becomes: `key` while it is active, else the default
    ("meeting"), else the first active type; None only when no type is active at all. A type
    deactivated after a user chose it must not make their events vanish."""
    found = session.scalar(select(ActivityType).where(ActivityType.company_id == company_id, ActivityType.key == key))
    if found is not None and found.active:
        return found
    fallback = session.scalar(
        select(ActivityType).where(
            ActivityType.company_id == company_id, ActivityType.key == DEFAULT_IMPORT_TYPE, ActivityType.active.is_(True)
        )
    )
    return fallback or session.scalar(
        select(ActivityType).where(ActivityType.company_id == company_id, ActivityType.active.is_(True))
        .order_by(ActivityType.order_nr, ActivityType.id).limit(1)
    )


def get_type(session: Session, viewer: User, type_id: int) -> ActivityType:
    found = session.get(ActivityType, type_id)
    if found is None or found.company_id != viewer.company_id:
        raise NotFound(f"there is no activity type {type_id}")
    return found


def _require_admin(viewer: User) -> None:
    if not viewer.is_admin:
        raise Forbidden("only an admin can change activity types")


def add_type(session: Session, viewer: User, data: ActivityTypeIn) -> ActivityType:
    _require_admin(viewer)
    exists = session.scalar(
        select(ActivityType.id).where(ActivityType.company_id == viewer.company_id, ActivityType.key == data.key)
    )
    if exists is not None:
        raise Conflict(f"an activity type with the key '{data.key}' exists already: pick another key")
    count = len(list_types(session, viewer))
    created = ActivityType(company_id=viewer.company_id, is_custom=True, order_nr=count, **data.model_dump())
    session.add(created)
    session.flush()
    return created


def update_type(session: Session, viewer: User, type_id: int, data: ActivityTypeUpdate) -> ActivityType:
    _require_admin(viewer)
    found = get_type(session, viewer, type_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise Invalid(f"{key} cannot be null", field=key)
        setattr(found, key, value)
    session.flush()
    return found
