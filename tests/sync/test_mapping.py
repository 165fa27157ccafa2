"""The mapping is a fixed point: to_crm(to_event(a)) == a's synced fields, for any activity."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.crm.schemas import ActivityCreate
from calsync.crm.services.activities import create_activity
from calsync.store.tables import User
from calsync.sync.mapping import (
    BLOCK_END,
    BLOCK_START,
    Attendee,
    SyncedFields,
    crm_values,
    fields_of,
    normalise,
    norm_zone,
    to_crm,
    to_event,
)
from calsync.sync.model import Event

UTC = dt.timezone.utc
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
zones = st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Etc/UTC", "W. Europe Standard Time", "Pacific/Kiritimati"])
instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC))
emails = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{2,8}\.(com|org|de)", fullmatch=True)
attendees = st.lists(
    st.builds(lambda e, n, s, o: SimpleNamespace(email=e, name=n, status=s, is_organizer=o), emails, text,
              st.sampled_from(["needs_action", "accepted", "declined", "tentative"]), st.booleans()),
    max_size=4,
)


@st.composite
def activities(draw: st.DrawFn) -> SimpleNamespace:
    all_day = draw(st.booleans())
    start = draw(instants)
    if all_day:
        day = start.date()
        timing = dict(start_at=None, end_at=None, timezone=None, start_date=day, end_date=day + dt.timedelta(days=draw(st.integers(1, 20))))
    else:
        timing = dict(start_at=start, end_at=start + dt.timedelta(minutes=draw(st.integers(0, 5000))), timezone=draw(zones),
                      start_date=None, end_date=None)
    return SimpleNamespace(
        subject=draw(text), location=draw(text), public_description=draw(st.one_of(text, st.just("<p>Hi<br>there</p> &amp; more"))),
        busy=draw(st.booleans()), private=draw(st.booleans()), attendees=draw(attendees), conference_url=draw(text),
        all_day=all_day, **timing,
    )


@given(activities(), st.sampled_from(["", "Deal: Big one\nOpen in CRM: http://x/activities/1"]))
@settings(max_examples=400, deadline=None)
def test_round_trip_is_a_fixed_point(activity: SimpleNamespace, details: str) -> None:
    fields = fields_of(activity)
    event = to_event(fields, calendar_id="c", activity_uuid="u", details=details)
    assert to_crm(event, "busy_block") == fields
    assert normalise(fields) == fields


@given(activities())
@settings(max_examples=200, deadline=None)
def test_normalising_twice_changes_nothing(activity: SimpleNamespace) -> None:
    fields = fields_of(activity)
    assert fields_of(SimpleNamespace(**{**vars(activity), "subject": fields.subject, "public_description": fields.description})) == fields


def test_generated_block_is_stripped_on_the_way_in() -> None:
    fields = SyncedFields(subject="Call", all_day=True, start_date=dt.date(2030, 1, 1), description="Agenda")
    event = to_event(fields, calendar_id="c", activity_uuid="u", details="Deal: X")
    assert BLOCK_START in event.description and BLOCK_END in event.description
    event.description += "\n"  # a provider adding whitespace does not grow anything either
    assert to_crm(event).description == "Agenda"


def test_html_descriptions_become_text_and_zone_spellings_are_iana() -> None:
    event = Event("c", summary="  Lunch  ", description="<p>Line one</p><p>Line&nbsp;two</p>", all_day=False,
                  start=dt.datetime(2030, 1, 1, 12, tzinfo=UTC), end=dt.datetime(2030, 1, 1, 13, tzinfo=UTC),
                  timezone="W. Europe Standard Time")
    fields = to_crm(event)
    assert fields.subject == "Lunch"
    assert fields.description == "Line one\nLine\xa0two"
    assert fields.timezone == "Europe/Berlin"
    assert norm_zone("Etc/UTC") == norm_zone("GMT") == "UTC"


def test_all_day_dates_stay_dates() -> None:
    event = Event("c", summary="Holiday", all_day=True, start_date=dt.date(2030, 5, 1), end_date=dt.date(2030, 5, 2))
    fields = to_crm(event)
    assert (fields.start_date, fields.end_date, fields.start_at) == (dt.date(2030, 5, 1), dt.date(2030, 5, 2), None)
    assert crm_values(fields)["start"] == "2030-05-01"


def test_private_events_are_ordinary_when_the_setting_says_everyone() -> None:
    event = Event("c", summary="Doctor", start=dt.datetime(2030, 1, 1, tzinfo=UTC), end=dt.datetime(2030, 1, 1, 1, tzinfo=UTC),
                  timezone="UTC", privacy="confidential")
    assert to_crm(event, "busy_block").private is True
    assert to_crm(event, "everyone").private is False
    assert to_event(to_crm(event, "everyone"), calendar_id="c", activity_uuid="u", keep_private=True).privacy == "private"


def test_invalid_attendee_addresses_are_dropped_and_duplicates_merged() -> None:
    fields = normalise(SyncedFields(subject="x", all_day=True, start_date=dt.date(2030, 1, 1), attendees=(
        Attendee("Bob@Example.com", "Bob"), Attendee("bob@example.com", "Bobby"), Attendee("not an address"), Attendee("a@b.test"))))
    assert [a.email for a in fields.attendees] == ["bob@example.com"]


@given(activities())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_what_the_crm_stores_maps_back_to_the_same_fields(sync_session_user: tuple, activity: SimpleNamespace) -> None:
    """Writing mapped fields through the CRM service and reading them back is a fixed point too."""
    session, user_id = sync_session_user
    fields = fields_of(activity)
    created = create_activity(session, session.get(User, user_id), ActivityCreate(type="meeting", **crm_values(fields)), source="sync")
    session.flush()
    assert fields_of(created) == fields
    session.rollback()
