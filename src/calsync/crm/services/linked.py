"""What a change to a deal, person or organization does to the activities linked to it.

The generated deal/contact block of an event (title, name, e-mail, phone) and who may see an
activity both depend on its linked items, so changing or deleting one changes those activities:
their `version` goes up and they are announced, and the sync engine sees them as changed."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from calsync.crm.services import changes
from calsync.store.tables import Activity, ActivityAttendee, ActivityParticipant, Deal, Organization, Person, User, utcnow

LINK_COLUMNS = {Deal: Activity.deal_id, Person: Activity.person_id, Organization: Activity.org_id}

# Item fields that linked activities show, push, or are seen by: a change to one of them is a
# change to those activities.
SHOWN_FIELDS = {
    Deal: {"title", "visibility", "owner_id"},
    Person: {"name", "emails", "phones", "visibility", "owner_id"},
    Organization: {"name", "visibility", "owner_id"},
}


def touch_linked(
    session: Session, actor: User, model: type[Deal] | type[Person] | type[Organization], item_id: int,
    *, unlink: bool = False, access: bool = False,
) -> list[int]:
    """Bumps `version` (and `updated_at`) of the live activities linked to the item, unlinking
    them first when the item is being deleted; announces each; returns their ids. `access`:
    who may see the item changed (visibility, owner), which also concerns the activities that
    have it as a participant, and the attendee matches of owners who no longer may see it."""
    column = LINK_COLUMNS[model]
    linked = column == item_id
    if model is Person and (unlink or access):  # participants are linked items too
        linked = linked | Activity.id.in_(
            select(ActivityParticipant.activity_id).where(ActivityParticipant.person_id == item_id))
    if model is Person and unlink:  # its participant rows go with it, attendees lose the match
        linked = linked | Activity.id.in_(select(ActivityAttendee.activity_id).where(ActivityAttendee.person_id == item_id))
    elif model is Person and access:  # attendees of owners who may no longer see the person lose the match
        linked = linked | Activity.id.in_(unmatch_hidden_attendees(session, item_id))
    rows = list(session.execute(select(Activity.id, Activity.owner_id).where(linked, Activity.deleted.is_(False))))
    if unlink:  # live and trashed alike (the database would clear the link anyway)
        session.execute(update(Activity).where(column == item_id).values({column.key: None}),
                        execution_options={"synchronize_session": "fetch"})
    if rows:
        session.execute(
            update(Activity).where(Activity.id.in_([r.id for r in rows])).values(
                version=Activity.version + 1, updated_at=utcnow(), updated_by_id=actor.id),
            execution_options={"synchronize_session": "fetch"},
        )
    session.flush()
    for activity_id, owner_id in rows:
        changes.announce(owner_id, activity_id)
    return [r.id for r in rows]


def unmatch_hidden_attendees(session: Session, person_id: int) -> list[int]:
    """Clears the attendee matches to this person on activities whose owner may not see it
    (after it became owner-only or changed owner); returns those activities' ids."""
    person = session.get(Person, person_id)
    if person is None or person.visibility == "everyone":
        return []
    hidden = select(ActivityAttendee.id).join(Activity, Activity.id == ActivityAttendee.activity_id).where(
        ActivityAttendee.person_id == person_id, Activity.owner_id != person.owner_id)
    rows = list(session.execute(
        select(ActivityAttendee.id, ActivityAttendee.activity_id).where(ActivityAttendee.id.in_(hidden))))
    if rows:
        session.execute(update(ActivityAttendee).where(ActivityAttendee.id.in_([r.id for r in rows])).values(person_id=None),
                        execution_options={"synchronize_session": "fetch"})
    return sorted({r.activity_id for r in rows})
