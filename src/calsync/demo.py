"""`calsync demo`: one company, three users, custom types, deals/persons/organizations with mixed
visibility and a few hundred activities over the coming weeks, all made through the CRM services.
Seeding happens once; later runs leave the database as it is and only print the logins."""

from __future__ import annotations

import datetime as dt
import random

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.config import Settings
from calsync.crm.schemas import ActivityCreate, ActivityTypeIn, AttendeeIn, DealIn, OrganizationIn, ParticipantIn, PersonIn
from calsync.crm.services import accounts, activity_types, items
from calsync.crm.services.activities import create_activity
from calsync.crypto import SecretBox
from calsync.store.tables import Company, Deal, Organization, Person, User

COMPANY = "Demo Company"
PASSWORD = "calsync-demo"
USERS = [
    ("alice@example.com", "Alice Admin", True, "Europe/Berlin"),
    ("bob@example.com", "Bob Builder", False, "America/New_York"),
    ("carol@example.com", "Carol Closer", False, "Asia/Tokyo"),
]
CUSTOM_TYPES = [("demo", "Demo", "monitor", "#d35400"), ("site_visit", "Site visit", "map-pin", "#7f8c8d")]
ORGS = ["Northwind Traders", "Globex", "Initech", "Umbrella Supplies", "Stark Logistics", "Wayne Foods"]
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson",
          "Margaret Hamilton", "Donald Knuth", "Frances Allen", "John Backus"]
SUBJECTS = {
    "call": ["Intro call", "Follow-up call", "Pricing call", "Check-in call"],
    "meeting": ["Kick-off", "Quarterly review", "Product walkthrough", "Contract meeting"],
    "task": ["Send proposal", "Prepare quote", "Update CRM notes", "Draft contract"],
    "deadline": ["Offer expires", "Tender deadline", "Renewal date"],
    "email": ["Send recap e-mail", "E-mail case study", "Answer questions"],
    "lunch": ["Lunch with client", "Team lunch"],
    "demo": ["Live demo", "Technical demo"],
    "site_visit": ["Warehouse visit", "Office visit"],
}
ACTIVITIES_PER_USER = 110
DAYS_AHEAD = 42


def seed_demo(session: Session, box: SecretBox, settings: Settings, console: Console, *, today: dt.date | None = None) -> bool:
    """Seeds the demo company unless it exists; always prints the logins. True if it seeded."""
    company = session.scalar(select(Company).where(Company.name == COMPANY))
    seeded = company is None
    if seeded:
        _seed(session, box, today or dt.date.today())
        session.flush()
        console.print(f"seeded the demo company '{COMPANY}'")
    else:
        console.print(f"the demo company '{COMPANY}' exists already: left as it is")
    print_logins(session, box, console)
    _connect_built_in_calendar(session, box, settings, console)
    return seeded


def _connect_built_in_calendar(session: Session, box: SecretBox, settings: Settings, console: Console) -> None:
    """alice@example.com syncs two-way with her calendar in the built-in CalDAV server (idempotent)."""
    if not settings.embedded_dav:
        return
    from calsync.providers.caldav.embedded import connect_demo_calendar

    alice = session.scalar(select(User).where(User.email == USERS[0][0]))
    if alice is None:
        return
    account = connect_demo_calendar(session, box, settings, alice)
    console.print(f"{alice.email} syncs two-way with the built-in calendar {account.calendar_id}")
    console.print(f"calendar apps (Thunderbird, Apple Calendar, DAVx5): {settings.resolved_base_url()}/dav/ "
                  "with a demo login")


def print_logins(session: Session, box: SecretBox, console: Console) -> None:
    console.print("demo logins (password for each: [bold]" + PASSWORD + "[/bold]):")
    for email, _name, admin, _zone in USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            continue
        role = "admin" if admin else "user"
        console.print(f"  {email:<20} {role:<5}  API token: {accounts.api_token(box, user)}", soft_wrap=True)


def _seed(session: Session, box: SecretBox, today: dt.date) -> None:
    rng = random.Random(20261128)
    users: list[User] = []
    for email, name, admin, zone_name in USERS:
        user, _token = accounts.add_user(
            session, box, email=email, password=PASSWORD, company_name=COMPANY, name=name, is_admin=admin,
            timezone=zone_name,
        )
        users.append(user)
    alice = users[0]
    for key, name, icon, color in CUSTOM_TYPES:
        activity_types.add_type(session, alice, ActivityTypeIn(key=key, name=name, icon=icon, color=color))
    orgs, persons, deals = _items(session, users, rng)
    type_keys = list(SUBJECTS)
    for user in users:
        for n in range(ACTIVITIES_PER_USER):
            key = rng.choice(type_keys)
            day = today + dt.timedelta(days=rng.randrange(-3, DAYS_AHEAD))
            data = _activity(rng, user, key, day, n, orgs, persons, deals, today)
            create_activity(session, user, data, source="demo")


def _items(
    session: Session, users: list[User], rng: random.Random
) -> tuple[list[Organization], list[Person], list[Deal]]:
    orgs: list[Organization] = []
    for n, name in enumerate(ORGS):
        owner = users[n % len(users)]
        visibility = "owner" if n % 3 == 2 else "everyone"
        orgs.append(items.create_item(session, owner, Organization, OrganizationIn(
            name=name, address=f"{n + 1} Market Street", visibility=visibility)))
    persons: list[Person] = []
    for n, name in enumerate(PEOPLE):
        org = orgs[n % len(orgs)]
        owner = session.get(User, org.owner_id)
        assert owner is not None
        local = name.lower().replace(" ", ".")
        visibility = "owner" if n % 4 == 3 else "everyone"
        persons.append(items.create_item(session, owner, Person, PersonIn(
            name=name, emails=[f"{local}@example.org"], phones=[f"+1 555 01{n:02d}"], org_id=org.id,
            visibility=visibility)))
    deals: list[Deal] = []
    for n, person in enumerate(persons):
        owner = session.get(User, person.owner_id)
        assert owner is not None
        visibility = "owner" if n % 5 == 4 else "everyone"
        deals.append(items.create_item(session, owner, Deal, DealIn(
            title=f"{ORGS[n % len(ORGS)]} deal {n + 1}", value=rng.randrange(1, 100) * 1000, person_id=person.id,
            org_id=person.org_id, visibility=visibility)))
    return orgs, persons, deals


def _visible_to(owner: User, item: Organization | Person | Deal) -> bool:
    return item.owner_id == owner.id or item.visibility == "everyone"


def _activity(
    rng: random.Random, user: User, key: str, day: dt.date, n: int,
    orgs: list[Organization], persons: list[Person], deals: list[Deal], today: dt.date,
) -> ActivityCreate:
    subject = rng.choice(SUBJECTS[key])
    values: dict = dict(subject=subject, type=key, done=day < today and rng.random() < 0.7)
    if key in ("deadline", "site_visit") or rng.random() < 0.12:
        values.update(all_day=True, start=day.isoformat(),
                      end=(day + dt.timedelta(days=rng.choice([1, 1, 1, 2, 3]))).isoformat())
    else:
        hour = rng.randrange(8, 18)
        minute = rng.choice([0, 15, 30, 45])
        start = dt.datetime.combine(day, dt.time(hour, minute))
        length = dt.timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))
        values.update(start=start.isoformat(), end=(start + length).isoformat(), timezone=user.timezone)
    deal = rng.choice(deals)
    if rng.random() < 0.6 and _visible_to(user, deal):
        values.update(deal_id=deal.id, person_id=deal.person_id, org_id=deal.org_id)
        person = next(p for p in persons if p.id == deal.person_id)
        if _visible_to(user, person):
            values["participants"] = [ParticipantIn(person_id=person.id, primary=True)]
            values["attendees"] = [AttendeeIn(email=person.emails[0], name=person.name)]
        else:
            values["person_id"] = None
        org = next((o for o in orgs if o.id == deal.org_id), None)
        if org is None or not _visible_to(user, org):
            values["org_id"] = None
    if key in ("meeting", "demo") and rng.random() < 0.5:
        values["conference_meeting_url"] = f"https://meet.example.com/{user.id}-{n}"
    if key in ("meeting", "lunch", "site_visit"):
        values["location"] = rng.choice(["HQ, room 2", "Client office", "Cafe Central", "Online"])
    values["note"] = "Internal: remember to ask about budget." if rng.random() < 0.3 else ""
    values["public_description"] = f"{subject} ({key})"
    if rng.random() < 0.1:
        values["private"] = True
    elif rng.random() < 0.1:
        values["visibility"] = "owner"
    return ActivityCreate(**values)
