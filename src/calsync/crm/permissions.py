"""Who may see and change what, and the one redaction function every read path uses.

Rule: a user sees another user's activity only if its visibility is `everyone` *and* the user may
see every item it links to (deal, person, organization, and every participant: Pipedrive counts
participants as linked items). Admins follow the same rule. A private
activity shows to everyone but its owner as a busy block: time only.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, exists, or_, select, true

from calsync.crm.errors import Forbidden
from calsync.store.tables import Activity, ActivityParticipant, Deal, Organization, Person, User

LinkedItem = Deal | Person | Organization


def can_see_item(viewer: User, item: LinkedItem | None) -> bool:
    if item is None:
        return True
    if item.company_id != viewer.company_id:
        return False
    return item.owner_id == viewer.id or item.visibility == "everyone"


def can_see_activity(viewer: User, activity: Activity, linked: list[LinkedItem | None]) -> bool:
    """`linked` are the activity's deal, person, organization (None where unset) and participants."""
    if activity.company_id != viewer.company_id:
        return False
    if activity.owner_id == viewer.id:
        return True
    if activity.visibility != "everyone":
        return False
    return all(can_see_item(viewer, item) for item in linked)


def is_busy_block_for(viewer: User, activity: Activity) -> bool:
    """True when the viewer must see only the time of this activity."""
    return busy_block(viewer, private=activity.private, owner_id=activity.owner_id)


def busy_block(viewer: User, *, private: bool, owner_id: int) -> bool:
    """The busy-block rule on plain values (for rows read without the ORM)."""
    return bool(private) and owner_id != viewer.id


def can_edit_activity(viewer: User, activity: Activity) -> bool:
    if activity.owner_id == viewer.id:
        return True
    return viewer.is_admin and not activity.private


def require_edit(viewer: User, activity: Activity) -> None:
    if not can_edit_activity(viewer, activity):
        if activity.private:
            raise Forbidden("this is another user's private activity: only its owner can change it")
        raise Forbidden("only the activity's owner or an admin can change it")


def _item_visible_sql(model: type[Deal] | type[Person] | type[Organization], column, viewer: User) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    return or_(
        column.is_(None),
        exists().where(model.id == column, or_(model.owner_id == viewer.id, model.visibility == "everyone")),
    )


def _participants_visible_sql(viewer: User) -> ColumnElement[bool]:
    """No participant of the activity is a person the viewer may not see."""
    hidden = (
        select(ActivityParticipant.id)
        .join(Person, Person.id == ActivityParticipant.person_id)
        .where(ActivityParticipant.activity_id == Activity.id, Person.owner_id != viewer.id, Person.visibility != "everyone")
    )
    return ~exists(hidden)


def visible_activities_sql(viewer: User, *, company: bool = True) -> ColumnElement[bool]:
    """The same rule as `can_see_activity`, as a SQL condition for list and calendar queries.

    `company=False` leaves out the company term, for queries that already pin rows to an owner
    of the viewer's company (so the planner picks the owner's index, not the company's)."""
    # A CASE rather than OR: PostgreSQL would split "owner OR visible" into two bitmap index
    # scans plus heap reads; as one expression it stays an index-only scan on the range index.
    others_may_see = and_(
        Activity.visibility == "everyone",
        _item_visible_sql(Deal, Activity.deal_id, viewer),
        _item_visible_sql(Person, Activity.person_id, viewer),
        _item_visible_sql(Organization, Activity.org_id, viewer),
        _participants_visible_sql(viewer),
    )
    return and_(
        Activity.company_id == viewer.company_id if company else true(),
        case((Activity.owner_id == viewer.id, true()), else_=others_may_see) == true(),
    )


def visible_items_sql(model: type[Deal] | type[Person] | type[Organization], viewer: User) -> ColumnElement[bool]:
    return and_(model.company_id == viewer.company_id, or_(model.owner_id == viewer.id, model.visibility == "everyone"))
